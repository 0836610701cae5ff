"""Building hostile history with real git objects and real keys, for the attack tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import Cli, git
from envtrail.audit import record
from envtrail.crypto.keys import Identity
from envtrail.gitstore.commit import Author, create_commit
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import signer_for

NEW_SECRET = "CANARY-after-revoke-5c1e"


def setv(cli: Cli, key: str, value: str, env: str = "production") -> None:
    r = cli("set", key, "--env", env, "--reason", f"set {key}", input=value)
    assert r.code == 0, r.err


def head(store: Path) -> str:
    return git(store, "rev-parse", "HEAD").strip()


def unsigned_commit(store: Path, tree_of: str, parents: list[str], message: str = "merge") -> str:
    """A commit object made by plain git plumbing: no signature, any parents, any tree."""
    args = ["commit-tree", f"{tree_of}^{{tree}}"]
    for p in parents:
        args += ["-p", p]
    return git(store, *args, "-m", message).strip()


def signed_commit(store: Path, identity: Identity, principal: str, parents: list[str],
                  changes: dict[str, bytes | None], message: str, tree_of: str | None = None,
                  when=None) -> str:
    """A commit signed (SSHSIG, namespace git) by ``identity`` with the given content."""
    g = GitRepo(store)
    tree = None
    if tree_of is not None:
        tree = g.repo.revparse_single(tree_of).peel(__import__("pygit2").Commit).tree_id
    when = when or g.info(parents[0] if parents else head(store)).committer_time
    return create_commit(g, parents, changes, message, Author(principal, principal, when),
                         signer_for(identity), tree=tree)


def dated_ahead(store: Path, when: str = "2099-01-01T00:00:00+00:00") -> None:
    """Put an outsider's unsigned commit dated ``when`` on ``main`` (a clock far ahead)."""
    import os
    import subprocess

    env = dict(os.environ, GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when)
    commit = subprocess.run(["git", "commit-tree", "-p", "HEAD", "-m", "ahead", "HEAD^{tree}"],
                            cwd=store, env=env, capture_output=True, text=True,
                            check=True).stdout.strip()
    git(store, "update-ref", "refs/heads/main", commit)


def point(store: Path, commit: str, ref: str = "refs/heads/main") -> None:
    """Move a branch by hand (what a push or a force-push does to a clone's view)."""
    git(store, "update-ref", ref, commit)
    if ref == "refs/heads/main":
        git(store, "reset", "-q", "--hard", commit)


def drop_signer(store: Path, principal: str) -> str:
    """An unsigned commit that removes ``principal``'s lines from allowed_signers (a
    takeover an outsider with push rights could push); returns it."""
    path = store / ".envtrail/allowed_signers"
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if not line.startswith(f"{principal} ")))
    git(store, "add", ".envtrail/allowed_signers")
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "takeover")
    return head(store)


def message(action: str, actor: str, env: str = "production", **kw) -> str:
    return record.render(record.Record(action, actor, "forged", (env,), **kw))


def proposal_id(result) -> str:
    """The id a ``--propose`` write printed."""
    import re

    m = re.search(r"proposed .* as ([0-9a-f]{12})", result.out)
    assert m, result.out + result.err
    return m.group(1)


def signed_approval(store: Path, who, parent: str, names: str, envs=("production",)) -> str:
    """An approve commit signed by ``who`` (an IdentityFile) on top of ``parent`` naming
    ``names``: what an approver can write by hand, whatever ``approve`` would refuse."""
    g = GitRepo(store)
    rec = record.Record("approve", who.principal, "looks fine", envs, extra=(("Approves", names),))
    when = g.info(parent).committer_time
    return create_commit(g, [parent], {}, record.render(rec),
                         Author(who.principal, who.principal, when), signer_for(who.identity))


def verify_findings(cli: Cli) -> list[dict]:
    r = cli("verify", "--json")
    report = json.loads(r.out)
    assert (r.code == 0) == report["ok"]
    return report["findings"]


def findings_on(cli: Cli, commit: str, secrets: tuple[str, ...] = ()) -> dict[int, list[str]]:
    """verify fails; its findings on ``commit``, by rule (from the JSON report, so wording
    elsewhere in the text cannot satisfy a test). No value in ``secrets`` is printed."""
    r = cli("verify", "--json")
    report = json.loads(r.out)
    # DESIGN §7: exit 5 where the line is not the store's (rule 8), 1 for other findings.
    other_line = any(f["rule"] == 8 for f in report["findings"])
    assert r.code == (5 if other_line else 1) and not report["ok"], (r.code, r.out, r.err)
    for value in secrets:
        assert value not in r.out + r.err
    out: dict[int, list[str]] = {}
    for f in report["findings"]:
        if f["commit"] == commit:
            out.setdefault(f["rule"], []).append(f["message"])
    return out


def refused(cli: Cli, key: str, attacker_values: tuple[str, ...] = ()) -> None:
    """Reads refuse with exit 5 and print no attacker value."""
    r = cli("get", key, "--env", "production")
    assert r.code == 5, (r.code, r.out, r.err)
    assert "history does not verify" in r.err or "line" in r.err
    for bad in attacker_values:
        assert bad not in r.out + r.err
    for cmd in (("export", "--env", "production"), ("list", "--env", "production")):
        r = cli(*cmd)
        assert r.code == 5, (cmd, r.code, r.err)


def commit_bytes(store: Path, commit: str) -> bytes:
    """A commit object's bytes, as git stores them."""
    import subprocess

    return subprocess.run(["git", "cat-file", "commit", commit], cwd=store, capture_output=True,
                          check=True).stdout


def raw_commit(store: Path, data: bytes) -> str:
    """Write any bytes as a commit object: ``--literally`` skips git's own checks, as a
    server without ``receive.fsckObjects`` would."""
    import subprocess

    return subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
                          cwd=store, input=data, capture_output=True,
                          check=True).stdout.decode().strip()


def sign_raw(identity: Identity, data: bytes) -> bytes:
    """``data`` (a commit without signature) with a gpgsig header, where git puts it."""
    from envtrail.crypto import sshsig

    header, _, rest = data.partition(b"\n\n")
    armored = sshsig.sign(identity, data).encode()
    return header + b"\ngpgsig " + armored.replace(b"\n", b"\n ") + b"\n\n" + rest


def git_says(store: Path, commit: str) -> str:
    """Stock git's verdict on a commit's signature (%G?: G good, B bad, N none)."""
    import subprocess

    done = subprocess.run(["git", "log", "-1", "--format=%G?", commit], cwd=store,
                          capture_output=True, text=True, check=False)
    if done.returncode == -13:
        # ssh-keygen refused the block before reading the payload git pipes to it, and
        # git died of SIGPIPE writing it (a race): git cannot call that signature good.
        return "B"
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout.strip()


def dated_commit(store: Path, parent: str, seconds: int, text: str) -> str:
    """An unsigned commit on ``parent`` with its tree, dated ``seconds`` after it (git
    plumbing takes any date: a clock run fast, or a forger's choice)."""
    import os
    import subprocess
    from datetime import timedelta

    when = GitRepo(store).info(parent).committer_time + timedelta(seconds=seconds)
    date = f"{int(when.timestamp())} +0000"
    return subprocess.run(["git", "commit-tree", "-p", parent, "-m", text, f"{parent}^{{tree}}"],
                          cwd=store, capture_output=True, text=True, check=True,
                          env=dict(os.environ, GIT_COMMITTER_DATE=date,
                                   GIT_AUTHOR_DATE=date)).stdout.strip()


def listed(store: Path, tree: str) -> list[tuple[str, str, str]]:
    """(mode, name, id) of a tree's entries, in its order."""
    out = []
    for line in git(store, "ls-tree", "-z", tree).split("\0"):
        if line:
            meta, name = line.split("\t", 1)
            mode, _, oid = meta.split()
            out.append((mode.lstrip("0"), name, oid))
    return out


def raw_tree(store: Path, entries: list[tuple[str, str, str]]) -> str:
    """Any entries, in the order given, duplicates kept, as a tree object (``--literally``
    skips git's own checks, as a server without fsck does)."""
    data = b"".join(mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
                    for mode, name, oid in entries)
    return subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
                          cwd=store, input=data, capture_output=True,
                          check=True).stdout.decode().strip()
