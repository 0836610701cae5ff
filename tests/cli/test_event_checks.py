"""The events line check at its edges (the survivors of a mutation run of
audit/eventline.py): each event here is signed by hand with a member's real key, as a
member could write it, and judged by ``eventline.check`` or ``verify``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_approvals import _head, make_team
from test_events import _event_after

from envtrail.audit import eventline
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo


@pytest.fixture
def team(cli, store, bob, make_identity):
    return make_team(cli, bob, make_identity)


def _rules(store, **kw) -> list[tuple[str, int]]:
    g = GitRepo(store)
    return [(f.commit, f.rule) for f in eventline.check(StoreView(g), g.store_head(), **kw)]


def test_an_event_is_ahead_only_more_than_ten_minutes_after_the_clock(cli, store, team, alice):
    """As on the store line: dated exactly 10 minutes after this clone's clock is within
    what clocks may differ; a second more is a rule 7 finding."""
    event = _event_after(store, alice.identity, "alice@example.com", _head(store), None)
    when = GitRepo(store).info(event).committer_time
    assert _rules(store, now=when - timedelta(minutes=10)) == []
    assert _rules(store, now=when - timedelta(minutes=10, seconds=1)) == [(event, 7)]


def test_two_events_in_one_second_after_one_commit_are_in_order(cli, store, team, alice):
    """Writers date an event no earlier than the one before it, often in the same second,
    and two may follow the same store commit: neither is out of order."""
    head = _head(store)
    first = _event_after(store, alice.identity, "alice@example.com", head, None)
    second = _event_after(store, alice.identity, "alice@example.com", head, first)
    g = GitRepo(store)
    assert g.info(first).committer_time == g.info(second).committer_time
    assert _rules(store) == []
    assert cli("verify").code == 0


def _event_with_ident(store, identity, actor: str, line: str, ident: str) -> str:
    """alice's signed event whose ``line`` ("author" or "committer") names ``ident``."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, commit_text
    from hostile import raw_commit, sign_raw

    g = GitRepo(store)
    rec = Record("event", actor, "claimed", ("production",),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    when = g.info(_head(store)).committer_time
    empty = str(g.repo.TreeBuilder().write())
    text = commit_text(empty, [], Author(actor, actor, when), render(rec))
    lines = text.split("\n")
    at = next(i for i, x in enumerate(lines) if x.startswith(line + " "))
    lines[at] = f"{line} {ident} " + lines[at].rsplit(" ", 2)[-2] + " " + lines[at].rsplit(" ", 1)[-1]
    commit = raw_commit(store, sign_raw(identity, "\n".join(lines).encode()))
    from conftest import git

    git(store, "update-ref", "refs/envtrail/events", commit)
    return commit


@pytest.mark.parametrize("line", ["author", "committer"])
@pytest.mark.parametrize("ident", ["mallory <alice@example.com>", "alice@example.com <m@x.org>"])
def test_an_event_whose_author_or_committer_is_not_its_actor_is_rule_2(cli, store, team,
                                                                      alice, line, ident):
    """The signer is the actor; each of the author and committer lines must name it too
    (name and email), or a tool reading git's own log sees someone else."""
    event = _event_with_ident(store, alice.identity, "alice@example.com", line, ident)
    assert _rules(store) == [(event, 2)]
    r = cli("verify")
    assert r.code == 1 and f"{event[:10]} rule 2" in r.out, r.out


def test_a_plain_git_commit_on_the_events_line_is_a_finding_not_a_crash(cli, store, team, alice):
    """Anyone with push rights can put any commit on refs/envtrail/events: one with no
    envtrail record is rule 6, and the events after it are still judged."""
    from conftest import git

    first = _event_after(store, alice.identity, "alice@example.com", _head(store), None)
    empty = git(store, "hash-object", "-t", "tree", "-w", "/dev/null").strip()
    plain = git(store, "commit-tree", empty, "-p", first, "-m", "just a note").strip()
    git(store, "update-ref", "refs/envtrail/events", plain)
    last = _event_after(store, alice.identity, "alice@example.com", _head(store), plain)
    assert _rules(store) == [(plain, 6)]
    r = cli("verify")
    assert r.code == 1 and f"{plain[:10]} rule 6 (line): not an envtrail event" in r.out, r.out
    assert last[:10] not in r.out
    r = cli("log", "--json")
    assert r.code == 0, r.err


def test_an_event_dated_before_the_event_under_it_is_rule_7(cli, store, team, alice):
    """Both follow the same store commit and are dated after it, but the second is dated
    before the first: a log read by time would show them the other way round."""
    head = _head(store)
    first = _event_after(store, alice.identity, "alice@example.com", head, None, later=60)
    second = _event_after(store, alice.identity, "alice@example.com", head, first, later=10)
    assert _rules(store) == [(second, 7)]
    r = cli("verify")
    assert r.code == 1, r.out
    assert f"{second[:10]} rule 7 (time): committer time goes backwards on the events line" \
        in r.out
    assert first[:10] not in r.out


def test_a_signed_merge_on_the_events_line_is_rule_6(cli, store, team, alice):
    """Events from two clones are put one after the other by sync, never merged: a merge,
    even a member's signed event, is a finding (the line must read one way for all)."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.ops.txn import signer_for

    head = _head(store)
    from conftest import git

    side = _event_after(store, alice.identity, "alice@example.com", head, None)
    git(store, "update-ref", "-d", "refs/envtrail/events")
    first = _event_after(store, alice.identity, "alice@example.com", head, None)
    g = GitRepo(store)
    rec = Record("event", "alice@example.com", "claimed", ("production",),
                 extra=(("After", head), ("Event-Kind", "deploy")))
    merge = create_commit(g, [first, side], {}, render(rec),
                          Author("alice@example.com", "alice@example.com",
                                 g.info(first).committer_time), signer_for(alice.identity))
    move_branch(g, "refs/envtrail/events", first, merge, "forge")
    assert _rules(store) == [(merge, 6)]
    r = cli("verify")
    assert r.code == 1 and f"{merge[:10]} rule 6 (line): a merge commit on the events line" \
        in r.out, r.out


def test_a_signed_commit_of_another_action_on_the_events_line_is_rule_6(cli, store, team,
                                                                        alice):
    """A member's signed commit that says it is an approval, with an event's trailers, is
    no event: the events line holds events only."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    rec = Record("approve", "alice@example.com", "claimed", ("production",),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    other = create_commit(g, [], {}, render(rec),
                          Author("alice@example.com", "alice@example.com",
                                 g.info(_head(store)).committer_time), signer_for(alice.identity))
    move_branch(g, "refs/envtrail/events", None, other, "forge")
    assert _rules(store) == [(other, 6)]


def test_an_event_after_a_repaired_state_is_a_finding_whichever_side_names_it(
        cli, store, team, alice):
    """The state an event names and the state current when it was signed are both
    judged: naming the forged state, signed after the repair, is a finding; so is
    naming the clean point under it while signed when the forged state was current."""
    import time
    from datetime import timedelta

    import forge
    from conftest import git

    clean = _head(store)
    plan = forge.honest_plan(store, alice.identity, "staging", {"X": "forged"})
    bad = forge.commit_plan(store, None, plan)  # unsigned: a finding
    time.sleep(2.1)  # the repair is dated at least two seconds after it
    assert cli("repair", "--reason", "unsigned commit").code == 0
    g = GitRepo(store)
    naming_bad = _event_after(store, alice.identity, "alice@example.com", bad, None, later=5)
    assert _rules(store, tainted=frozenset({bad})) == [(naming_bad, 6)]
    git(store, "update-ref", "-d", "refs/envtrail/events")
    signed = g.info(bad).committer_time + timedelta(seconds=1)  # bad was current then
    during = _event_after(store, alice.identity, "alice@example.com", clean, None,
                          later=int((signed - g.info(_head(store)).committer_time)
                                    .total_seconds()))
    assert g.info(during).committer_time == signed
    assert _rules(store, tainted=frozenset({bad})) == [(during, 6)]


def test_an_event_signed_by_no_allowed_signer_is_rule_1(cli, store, team, make_identity):
    """An outsider's key (in no allowed_signers) signs an event naming alice as its actor:
    the signature is judged at the store state, and it is no signer's there."""
    mallory = make_identity("mallory@example.com")
    event = _event_with_ident(store, mallory.identity, "alice@example.com", "author",
                              "alice@example.com <alice@example.com>")
    assert _rules(store) == [(event, 1)]
    g = GitRepo(store)
    found = eventline.check(StoreView(g), g.store_head())
    assert found[0].message.startswith("signature ") and "unreadable" not in found[0].message


def test_an_event_after_a_state_whose_signers_do_not_parse_is_rule_1(cli, store, team, alice):
    """Someone with push rights breaks allowed_signers in a commit of the line: an event
    naming it cannot be judged there, which is a finding, not a crash."""
    from conftest import git

    (store / ".envtrail/allowed_signers").write_text("this is not a signers line\n")
    git(store, "add", ".envtrail/allowed_signers")
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "broken")
    event = _event_after(store, alice.identity, "alice@example.com", _head(store), None,
                         later=1)
    g = GitRepo(store)
    found = eventline.check(StoreView(g), g.store_head())
    assert [(f.commit, f.rule, f.message) for f in found] == \
        [(event, 1, "signature unreadable allowed_signers")]


def test_an_event_on_a_marker_that_carried_files_is_judged_by_its_own_change(
        cli, store, team, alice):
    """A forged first event carries a file (a finding); the event after it changes
    nothing, so it is judged as a marker like any other."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    rec = Record("event", "alice@example.com", "claimed", ("production",),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    carrier = create_commit(g, [], {"notes.txt": b"riding along"}, render(rec),
                            Author("alice@example.com", "alice@example.com",
                                   g.info(_head(store)).committer_time), signer_for(alice.identity))
    move_branch(g, "refs/envtrail/events", None, carrier, "forge")
    after = _event_after(store, alice.identity, "alice@example.com", _head(store), carrier)
    assert after != carrier
    assert _rules(store) == [(carrier, 4)]


def test_an_event_naming_no_environment_is_rule_4(cli, store, team, alice):
    """An event is about one environment, whose members may write it: one naming none
    (two are refused as a malformed record) has no one to be judged against."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    rec = Record("event", "alice@example.com", "claimed", (),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    event = create_commit(g, [], {}, render(rec),
                          Author("alice@example.com", "alice@example.com",
                                 g.info(_head(store)).committer_time), signer_for(alice.identity))
    move_branch(g, "refs/envtrail/events", None, event, "forge")
    found = eventline.check(StoreView(g), g.store_head())
    assert [(f.commit, f.rule, f.message) for f in found] == \
        [(event, 4, "an event names exactly one environment")]
