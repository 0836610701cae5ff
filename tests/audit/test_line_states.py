"""Which store state was current when an event or proposal was signed (``LineStates``):
the newest line commit dated before that moment, never one before the commit it names,
on a real line whose committer times jump, asked in any order of one memo."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from conftest import git
from envtrail.audit.view import LineStates, StoreView
from envtrail.gitstore.repo import GitRepo
from hostile import dated_commit

# Seconds after the commit before: a commit dated three hours ahead (a fast clock a
# repair acknowledged), commits back in order after it, two in one second.
STEPS = [100, 200, 9000, -8700, 100, 0, 100]


def _line(tmp_path: Path) -> tuple[GitRepo, list[str], list[int]]:
    root = tmp_path / "line"
    root.mkdir()
    git(root, "init", "-q")
    (root / "f").write_text("x\n")
    git(root, "add", "f")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "root")
    line = [git(root, "rev-parse", "HEAD").strip()]
    for i, step in enumerate(STEPS):
        line.append(dated_commit(root, line[-1], step, f"c{i}"))
    repo = GitRepo(root)
    return repo, line, [repo.commit_time(c) for c in line]


def _expected(times: list[int], when: int, floor: int) -> int:
    """The newest position dated strictly before ``when`` (a commit of the same second
    does not count), but never one before ``floor``."""
    before = [i for i, t in enumerate(times) if t < when]
    return max(floor, before[-1]) if before else floor


def _questions(times: list[int]) -> list[tuple[int, int]]:
    moments = sorted({t + d for t in times for d in (-1, 0, 1)})
    return [(when, floor) for when in moments for floor in range(len(times))]


def _at(when: int) -> datetime:
    return datetime.fromtimestamp(when, UTC)


def test_the_times_are_the_line_they_were_meant_to_be(tmp_path):
    _, _, times = _line(tmp_path)
    assert [b - a for a, b in pairwise(times)] == STEPS


def test_each_question_alone_finds_the_newest_commit_before_it(tmp_path):
    repo, line, times = _line(tmp_path)
    view = StoreView(repo)
    for when, floor in _questions(times):
        for given in (None, times):  # read from git as needed, or handed over by a walk
            states = LineStates(view, line, given)
            got = states.current_at(_at(when), line[floor])
            assert got == line[_expected(times, when, floor)], (when - times[0], floor, given)


def test_one_memo_answers_every_question_in_any_order(tmp_path):
    # The minima grow as far as a question needs: a later question, recent or old, with
    # a higher or lower floor, must not be answered from what an earlier one left.
    repo, line, times = _line(tmp_path)
    view = StoreView(repo)
    questions = _questions(times)
    for order in (questions, questions[::-1], sorted(questions, key=lambda q: (q[1], -q[0]))):
        states = LineStates(view, line)
        for when, floor in order:
            got = states.current_at(_at(when), line[floor])
            assert got == line[_expected(times, when, floor)], (when - times[0], floor)


def test_a_commit_of_the_same_second_is_not_yet_current(tmp_path):
    # Signed in the second a revocation was committed: judged before the revocation.
    repo, line, times = _line(tmp_path)
    states = LineStates(StoreView(repo), line)
    last = len(line) - 1
    assert states.current_at(_at(times[last]), line[0]) == line[last - 1]
    assert states.current_at(_at(times[last] + 1), line[0]) == line[last]


def test_a_commit_dated_ahead_is_never_current_after_the_commits_that_follow_it(tmp_path):
    # Position 3 is dated hours ahead; at its date the newest commit dated before is the
    # line head's predecessor chain, not the jump itself nor anything before it.
    repo, line, times = _line(tmp_path)
    states = LineStates(StoreView(repo), line)
    assert states.current_at(_at(times[3] + 1), line[0]) == line[-1]
    assert states.current_at(_at(times[4] + 1), line[0]) == line[4]
    assert states.current_at(_at(times[2] + 1), line[0]) == line[2]
