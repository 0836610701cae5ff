"""The walk on several processes judges exactly like the one-process walk.

Long lines are judged in chunks that the walking process and forked children
(one per further core) take in turn from one counter. Chunks are made tiny here so that a short
real line crosses many chunk boundaries; which process judges which chunk
depends on timing, so the child's side of the exchange is also held on its
own, in this process.
"""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

import forge
from envtrail.audit import line, parallel
from envtrail.audit.keyring import Keyring
from envtrail.audit.verify import Verifier
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo
from hostile import head, setv


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(parallel, "_CHUNK", 2)
    monkeypatch.setattr(parallel, "_PARALLEL_FROM", 4)


def _walk(store, identity, workers: int) -> line.LineReport:
    return line.walk(StoreView(GitRepo(store)), head(store), keyring=Keyring(identity),
                     now=datetime.now(UTC), workers=workers)


def _line_with_forgeries(cli, store, through_cli: bool = True):
    """Three writes (through the CLI, or made directly), then twelve commits made directly
    (the CLI refuses to write past a finding): honest ones, two with a lying fingerprint,
    two unsigned, one to staging."""
    ident = cli.identity.identity
    for i in range(3):
        if through_cli:
            setv(cli, f"V{i}", f"value-{i}")
        else:
            forge.commit_plan(store, ident, forge.honest_plan(store, ident, "production",
                                                              {f"V{i}": f"value-{i}"}))
    # Past the first findings the CLI refuses to write, so the rest of the line is
    # made directly: honest signed commits with forged ones among them.
    forged = []
    for i in range(12):
        plan = forge.honest_plan(store, ident, "production", {f"W{i}": f"w-{i}"})
        if i in (3, 8):  # a fingerprint that lies (only a key holder can tell)
            forged.append(forge.commit_plan(store, ident, forge.with_record(
                plan, changes=tuple(replace(c, new_fp="0" * len(c.new_fp))
                                    for c in plan.record.changes))))
        elif i in (5, 10):  # honest trailers, no signature
            forged.append(forge.commit_plan(store, None, plan))
        elif i == 2:  # the one staging change
            forge.commit_plan(store, ident, forge.honest_plan(
                store, ident, "staging", {"S": "s"}))
        else:
            forge.commit_plan(store, ident, plan)
    return forged


@pytest.mark.parametrize("keyed", [True, False])
def test_two_processes_find_what_one_finds(cli, store, tiny_chunks, keyed):
    ident = cli.identity.identity
    forged = _line_with_forgeries(cli, store)
    identity = ident if keyed else None
    one, two = _walk(store, identity, 1), _walk(store, identity, 2)
    assert len(one.walked) >= 3 * parallel._PARALLEL_FROM
    assert two.findings == one.findings
    assert two.unkeyed == one.unkeyed
    assert two.checked == one.checked == len(one.walked)
    # (Commits git itself made take the wall clock, so rule 7 findings come along.)
    found = {f.commit for f in two.findings if f.rule != 7}
    assert forged[1] in found and forged[3] in found  # unsigned: seen with or without a key
    # The lying fingerprints need the key to be seen; without it the environment is unkeyed.
    assert (forged[0] in found) == keyed and (forged[2] in found) == keyed
    assert two.unkeyed == (set() if keyed else {"production", "staging"})


def test_a_batch_judged_a_step_at_a_time_is_judged_as_each_commit_alone(cli, store, monkeypatch):
    """judge_all takes a few commits through each step in turn, for speed: every
    judgement must still be the one its commit gets alone, across batch boundaries, with
    findings, unsigned commits, two rotations in a row and a second environment among them."""
    for _ in range(2):
        assert cli("access", "rotate", "--env", "staging", "--reason", "drill").code == 0
    _line_with_forgeries(cli, store)
    monkeypatch.setattr(parallel, "_BATCH", 4)
    ids = line.line_ids(StoreView(GitRepo(store)), head(store), None)[0]

    def verifier():
        return Verifier(StoreView(GitRepo(store)), Keyring(cli.identity.identity))

    batched = parallel.judge_all(verifier(), ids)
    alone = [parallel.judge_all(verifier(), [commit])[0] for commit in ids]
    assert [j.info.id for j in batched] == ids and len(ids) > 3 * parallel._BATCH
    assert batched == alone
    assert {j.verdict.status for j in batched if j.verdict} == {"good", "unsigned"}
    assert sum(bool(j.findings) for j in batched) >= 4
    assert [len(j.keys) for j in batched[:3]] == [2, 1, 1]  # the genesis, each rotation


def test_the_childs_chunks_carry_their_judgements_and_what_it_could_not_check(cli, store):
    import multiprocessing

    _line_with_forgeries(cli, store)
    g = GitRepo(store)
    ids = line.line_ids(StoreView(g), head(store), None)[0]
    chunks = [ids[i:i + 2] for i in range(0, len(ids), 2)]
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    taken = ctx.Value("i", 0)
    parallel._child(Verifier(StoreView(g), Keyring(None)), chunks, taken, sender)
    walker = Verifier(StoreView(GitRepo(store)), Keyring(None))
    done: dict[int, list] = {}
    while parallel._collect(receiver, done, walker):
        pass
    assert sorted(done) == list(range(len(chunks)))  # it took every chunk, in turn
    serial = Verifier(StoreView(GitRepo(store)), Keyring(None))
    for index, chunk in enumerate(chunks):
        assert done[index] == [parallel.judge_all(serial, [c])[0] for c in chunk]
    assert walker.unkeyed == serial.unkeyed == {"production", "staging"}
    assert parallel._take(taken, len(chunks)) is None


def test_a_child_that_fails_leaves_its_chunks_to_the_parent_without_a_traceback(
        cli, store, tiny_chunks, monkeypatch, capfd):
    import os

    forged = _line_with_forgeries(cli, store)
    parent, real_judge = os.getpid(), parallel.judge_all

    def judge_in_parent_only(verifier, commits):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return real_judge(verifier, commits)

    monkeypatch.setattr(parallel, "judge_all", judge_in_parent_only)
    _walked_alike_in_silence(store, forged, capfd,
                             lambda: monkeypatch.setattr(parallel, "judge_all", real_judge))


def _walked_alike_in_silence(store, forged, capfd, mend) -> None:
    """With every child failing (until ``mend``), three processes find what one finds,
    and nothing reaches stderr."""
    two = _walk(store, None, 3)
    mend()
    one = _walk(store, None, 1)
    assert two.findings == one.findings and forged[1] in {f.commit for f in two.findings}
    assert two.checked == one.checked
    assert "Traceback" not in capfd.readouterr().err


def test_a_child_that_cannot_open_the_clone_leaves_its_chunks_without_a_traceback(
        cli, store, tiny_chunks, monkeypatch, capfd):
    """Opening the clone again after fork is part of the child's work: where it fails (the
    parent opened it another way), the parent judges every chunk and nothing is printed."""
    import os

    from envtrail.errors import NotFoundError

    forged = _line_with_forgeries(cli, store)
    parent, real_init = os.getpid(), GitRepo.__init__

    def open_in_parent_only(self, root):
        if os.getpid() != parent:
            raise NotFoundError(f"{root} is not a Git repository")
        real_init(self, root)

    monkeypatch.setattr(GitRepo, "__init__", open_in_parent_only)
    _walked_alike_in_silence(store, forged, capfd,
                             lambda: monkeypatch.setattr(GitRepo, "__init__", real_init))


def test_both_processes_judge_and_rule_9_comes_out_the_same(cli, store, tiny_chunks, tmp_path,
                                                            monkeypatch, bob):
    """Approvals are worked out in the process that judges the change; a change left short
    must be reported the same, and the child must really have taken chunks."""
    import os
    import time

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "a second approver").code == 0  # ops/reach.py
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    _line_with_forgeries(cli, store, through_cli=False)  # its changes lack their approvals
    parent, real_judge, log = os.getpid(), parallel.judge_all, tmp_path / "judged-by"

    def judge_and_note(verifier, commits):
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n" * len(commits))
        if os.getpid() == parent:
            time.sleep(0.02 * len(commits))  # a slow parent: the child takes chunks for sure
        return real_judge(verifier, commits)

    monkeypatch.setattr(parallel, "judge_all", judge_and_note)
    two = _walk(store, cli.identity.identity, 2)
    monkeypatch.setattr(parallel, "judge_all", real_judge)
    one = _walk(store, cli.identity.identity, 1)
    assert len(set(log.read_text().split())) == 2
    assert two.findings == one.findings
    assert any(f.rule == 9 for f in two.findings)


def test_more_processes_than_cores_judge_alike_and_each_takes_chunks(cli, store, tiny_chunks,
                                                                     tmp_path, monkeypatch):
    """A machine with more cores forks more children; each takes chunks from the one
    counter, and the line comes out judged as by one process."""
    import os
    import time

    forged = _line_with_forgeries(cli, store)
    parent, real_judge, log = os.getpid(), parallel.judge_all, tmp_path / "judged-by"

    def judge_and_note(verifier, commits):
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n" * len(commits))
        time.sleep(0.03 * len(commits))  # slow enough that every child gets a turn
        return real_judge(verifier, commits)

    monkeypatch.setattr(parallel, "judge_all", judge_and_note)
    four = _walk(store, cli.identity.identity, 4)
    monkeypatch.setattr(parallel, "judge_all", real_judge)
    one = _walk(store, cli.identity.identity, 1)
    judged_by = log.read_text().split()
    assert len(set(judged_by)) == 4 and str(parent) in judged_by
    assert len(judged_by) == len(one.walked)  # every commit judged once, by someone
    assert four.findings == one.findings and four.unkeyed == one.unkeyed
    assert {forged[0], forged[1]} <= {f.commit for f in four.findings}


@pytest.mark.parametrize("count", [0, 1, 31, 512, 513, 1000, 10_000])
def test_chunks_cover_the_line_in_order_and_end_small(count):
    ids = [f"{i:040x}" for i in range(count)]
    chunks = parallel._chunks(ids)
    assert [c for chunk in chunks for c in chunk] == ids and all(chunks)
    assert all(len(c) <= parallel._CHUNK for c in chunks)
    # The last four chunks' worth of commits go four times smaller.
    tail = [len(c) for c in chunks][-(4 * 4):]
    assert count < parallel._CHUNK or max(tail) <= parallel._CHUNK // 4


def test_a_short_line_forks_a_process_per_full_chunk_not_per_small_one(cli, store, tmp_path,
                                                                      monkeypatch):
    """The tail of a line is cut four times smaller (so one process waits less for the
    other at the end), but a short line on a many-core machine forks no more children
    for it: as many processes as full chunks of work."""
    import os
    import time

    _line_with_forgeries(cli, store)
    monkeypatch.setattr(parallel, "_CHUNK", 8)
    monkeypatch.setattr(parallel, "_PARALLEL_FROM", 4)
    real_judge, log = parallel.judge_all, tmp_path / "judged-by"

    def judge_and_note(verifier, commits):
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n" * len(commits))
        time.sleep(0.03 * len(commits))  # slow enough that every child there is gets a turn
        return real_judge(verifier, commits)

    monkeypatch.setattr(parallel, "judge_all", judge_and_note)
    report = _walk(store, cli.identity.identity, 16)
    count = len(report.walked)
    assert len(parallel._chunks(report.walked)) > -(-count // 8)  # the tail is cut small
    assert len(set(log.read_text().split())) <= -(-count // 8)


_KILLED_MID_WALK = """
import fcntl, multiprocessing, os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from envtrail.audit import line, parallel
from envtrail.audit.verify import Verifier
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo
parallel._CHUNK, parallel._PARALLEL_FROM = 1, 2
# A pipe that fills after a send or two, as the 1 MiB one does on a long line.
parallel._widen = lambda r: fcntl.fcntl(r.fileno(), fcntl.F_SETPIPE_SZ, 4096)
view = StoreView(GitRepo(Path(sys.argv[1])))
ids, _ = line.line_ids(view, view.git.head(), None)
judged = parallel.judgements(Verifier(view), ids, workers=2)
next(judged)
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # as a CI timeout's SIGKILL (or SIGTERM) ends it
"""


def test_a_child_stops_once_the_walking_process_is_killed(cli, store, tmp_path):
    """A walk ended from outside (SIGTERM, SIGKILL: a CI job's timeout) runs no cleanup; its
    forked child must still stop, not block for ever on a pipe nobody reads, holding the
    caller's stdout and, under `repair`, the store's write lock (attack35 F3)."""
    import os
    import subprocess
    import sys
    import time

    ident = cli.identity.identity
    for i in range(20):
        forge.commit_plan(store, ident, forge.honest_plan(store, ident, "production",
                                                          {f"V{i}": f"value-{i}"}))
    with (tmp_path / "pids").open("w") as out:  # a file: a pipe would wait for the child
        proc = subprocess.run([sys.executable, "-c", _KILLED_MID_WALK, str(store)],
                              stdout=out, stderr=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == -9
    children = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert children

    def running(pid: int) -> bool:  # (a zombie no init reaped has stopped too)
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    try:
        deadline = time.monotonic() + 15
        while any(running(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(running(p) for p in children)
    finally:
        for pid in children:
            if running(pid):
                os.kill(pid, 9)


def test_a_child_writes_nothing_the_parent_had_not_flushed_when_it_forked(cli, store,
                                                                         tiny_chunks, tmp_path):
    """A forked child holds a copy of the parent's output buffers: flushed on its way out,
    they would print again what the parent had written but not yet flushed (multiprocessing
    flushes them before it forks; a walk that forked some other way would not)."""
    import io
    import os
    import sys

    _line_with_forgeries(cli, store)
    out = tmp_path / "out"
    with out.open("wb", buffering=0) as raw:  # the file itself, unbuffered
        buffered = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8")
        saved, sys.stdout = sys.stdout, buffered
        try:
            buffered.write("said once\n")  # left in the buffer across the fork
            report = _walk(store, cli.identity.identity, 2)
            buffered.flush()
        finally:
            sys.stdout = saved
            buffered.detach()
    assert report.checked > 4 and os.getpid()
    assert out.read_text().count("said once") == 1
