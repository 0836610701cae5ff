"""A commit anyone can push is read, never a crash: odd bytes are findings, repair undoes them.

Each commit is written with `git hash-object --literally` (what a server without
fsck accepts) on top of an honest line; git itself reads them all.
"""

from __future__ import annotations

import pytest

import forge
from conftest import assert_one_line_error, git
from hostile import commit_bytes, git_says, head, point, raw_commit, refused, setv, sign_raw, verify_findings

WHO = b"eve <eve@example.com> 1795704074 +0000"
ODD = {  # case -> (author, committer, extra header)
    "an unknown encoding header": (WHO, WHO, b"encoding no-such-codec\n"),
    "a time past any date": (b"eve <eve@example.com> 99999999999999 +0000",) * 2 + (b"",),
    "an author without e-mail": (b"eve 1795704074 +0000", WHO, b""),
    "a committer time that is no number": (WHO, b"eve <eve@example.com> soon +0000", b""),
}


def odd_commit(store, parent: str, tree: str, case: str, message: bytes = b"hello\n") -> str:
    author, committer, extra = ODD[case]
    return raw_commit(store, b"tree %s\nparent %s\nauthor %s\ncommitter %s\n%s\n%s" % (
        tree.encode(), parent.encode(), author, committer, extra, message))


@pytest.mark.parametrize("case", sorted(ODD))
def test_an_odd_commit_on_the_line_is_a_finding_that_repair_undoes(cli, store, case):
    setv(cli, "A", "good")
    clean = head(store)
    evil = forge.commit_plan(store, None, forge.honest_plan(
        store, cli.identity.identity, "production", {"A": "evil"}))
    odd = odd_commit(store, clean, git(store, "rev-parse", f"{evil}^{{tree}}").strip(), case)
    point(store, odd)
    findings = verify_findings(cli)
    assert {(f["commit"], f["rule"]) for f in findings} >= {(odd, 1)}
    if "time" in case:
        assert (odd, 7) in {(f["commit"], f["rule"]) for f in findings}
    refused(cli, "A", ("evil",))
    r = cli("repair", "--reason", "odd commit INC-9", env={"ENVTRAIL_DEBUG": "1"})
    assert r.code == 0, r.err
    assert cli("get", "A", "--env", "production").out == "good"
    r = cli("verify")
    assert r.code == 0 and "acknowledged:" in r.out, r.out + r.err
    for cmd in (("log",), ("history", "A", "--env", "production"), ("show", odd),
                ("access", "log")):
        r = cli(*cmd)
        assert r.code == 0 and "Traceback" not in r.err, (cmd, r.err)
    assert odd[:10] in cli("log").out
    git(store, "verify-commit", "HEAD")


def test_a_signed_commit_whose_author_has_no_e_mail_is_rule_2_not_a_crash(cli, store):
    setv(cli, "A", "good")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "new"})
    honest = forge.commit_plan(store, cli.identity.identity, plan)
    data = commit_bytes(store, honest)
    header, _, body = data.partition(b"\n\n")
    header = b"\n".join(ln for ln in header.split(b"\n") if not ln.startswith((b"gpgsig", b" ")))
    author = next(ln for ln in header.split(b"\n") if ln.startswith(b"author "))
    when = author.rsplit(b" ", 2)[1]
    header = header.replace(author, b"author alice@example.com " + when + b" +0000")
    odd = raw_commit(store, sign_raw(cli.identity.identity, header + b"\n\n" + body))
    point(store, honest + "^")
    point(store, odd)
    assert git_says(store, odd) == "G"  # the signature itself is good: git only checks that
    found = {(f["commit"], f["rule"]) for f in verify_findings(cli)}
    assert (odd, 2) in found and (odd, 1) not in found
    assert_one_line_error(cli("get", "A", "--env", "production"), 5)
    assert cli("repair", "--reason", "malformed author").code == 0
    assert cli("get", "A", "--env", "production").out == "good"


@pytest.mark.parametrize(("case", "why"), [
    ("a committer time that is no number", "its committer line is not 'name <email> seconds zone'"),
    ("a time past any date", "its committer time 99999999999999 is past any date envtrail can hold"),
    ("an author without e-mail", None),
])
def test_a_committer_time_git_cannot_read_is_rule_7_by_itself(store, case, why):
    """With no floor and no first sighting to compare with, rule 7 still names a time that
    cannot be read; an unreadable author is rule 2's, not a time finding."""
    from envtrail.audit.line import check_time
    from envtrail.audit.verify import Finding
    from envtrail.gitstore.repo import GitRepo

    odd = odd_commit(store, head(store), git(store, "rev-parse", "HEAD^{tree}").strip(), case)
    expected = [Finding(odd, 7, why)] if why else []
    assert check_time(GitRepo(store).info(odd), None, None) == expected


def test_commit_time_reads_an_odd_commit_as_info_does(store):
    from envtrail.gitstore.repo import GitRepo

    g = GitRepo(store)
    tree = git(store, "rev-parse", "HEAD^{tree}").strip()
    for case in ODD:
        odd = odd_commit(store, head(store), tree, case)
        assert g.commit_time(odd) == int(g.info(odd).committer_time.timestamp())
