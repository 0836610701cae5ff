"""Fetch and push through the `git` command, so every remote git reaches works
(paths, git://, SSH and HTTPS with the user's own credentials and helpers).

The store branch is fetched into FETCH_HEAD only, so that a remote that went
backwards can be refused before any local ref moves; the remote-tracking ref
is updated once sync has accepted what came in. Pushes are compare-and-swap:
git's ``--force-with-lease`` with the exact commit the push was built on.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envtrail.errors import AccessDenied, ConflictError, IntegrityError, NotFoundError
from envtrail.gitstore import marks
from envtrail.gitstore.discover import state_dir

if TYPE_CHECKING:
    from envtrail.gitstore.repo import GitRepo

MIRROR_ROOT = "refs/envtrail-remotes/"  # + <remote>/<name under the remote's refs/envtrail/>
LOCK_RETRIES = 5
LOCK_WAIT = 0.2  # seconds, growing linearly: a ref lock is held for milliseconds


@dataclass(frozen=True)
class Upstream:
    """Where a branch syncs: remote name and the branch name there."""

    remote: str
    branch: str

    @property
    def tracking_ref(self) -> str:
        """The local ref that mirrors the remote branch."""
        return f"refs/remotes/{self.remote}/{self.branch}"

    @property
    def remote_ref(self) -> str:
        """The branch's full name on the remote."""
        return f"refs/heads/{self.branch}"

    def __str__(self) -> str:
        return f"{self.remote}/{self.branch}"


def _git(root: Path, *args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
    # With no data, stdin is /dev/null: git must never wait for a prompt answer.
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=False, input=data,
                              stdin=subprocess.DEVNULL if data is None else None)
    except FileNotFoundError:
        raise NotFoundError("sync needs the `git` command on PATH") from None


def upstream(root: Path, branch_ref: str, remote: str | None) -> Upstream:
    """The branch's configured upstream, or ``<remote or origin>/<same branch>``."""
    name = branch_ref.removeprefix("refs/heads/")
    configured = _git(root, "config", "--get", f"branch.{name}.remote").stdout.strip()
    merge = _git(root, "config", "--get", f"branch.{name}.merge").stdout.strip()
    chosen = remote or configured or "origin"
    if _git(root, "remote", "get-url", chosen).returncode != 0:
        raise NotFoundError(f"no remote named {chosen!r}",
                            hint="add one with `git remote add origin <url>`")
    other = merge.removeprefix("refs/heads/") if merge and chosen == configured else name
    return Upstream(chosen, other)


def fetch(root: Path, up: Upstream) -> str | None:
    """The remote branch's head (its objects fetched, no local ref moved); None if absent.

    The remote's ``refs/envtrail/*`` are mirrored under ``refs/envtrail-remotes/``
    (see ``mirror``), never over this clone's own ``refs/envtrail/*``.
    """
    _drop_old_mirror(root, up)
    # --prune: a proposal deleted there (applied or withdrawn) disappears from the mirror.
    proc = _git(root, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--prune",
                "--refmap=", up.remote, f"+refs/envtrail/*:{mirror(up, 'refs/envtrail/')}*")
    if proc.returncode != 0:
        raise ConflictError(f"fetching from {up.remote} failed: {_last_line(proc.stderr)}")
    proc = _git(root, "fetch", "--quiet", "--no-tags", "--refmap=", up.remote, up.remote_ref)
    if proc.returncode != 0:
        if "couldn't find remote ref" in proc.stderr.lower():
            return None
        raise ConflictError(f"fetching from {up.remote} failed: {_last_line(proc.stderr)}")
    head = _git(root, "rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
    if head.returncode != 0:
        raise ConflictError(f"fetching from {up.remote} gave no commit for {up.branch}")
    return head.stdout.strip()


def mirror(up: Upstream, ref: str) -> str:
    """Where ``fetch`` keeps the remote's copy of one of its ``refs/envtrail/*``."""
    # Outside refs/remotes/: a branch named ``envtrail`` (the store branch of an application
    # repository) has its remote-tracking ref at refs/remotes/<remote>/envtrail, and git
    # cannot keep refs beneath a ref. No branch name can land here.
    return f"{MIRROR_ROOT}{up.remote}/" + ref.removeprefix("refs/envtrail/")


def _drop_old_mirror(root: Path, up: Upstream) -> None:
    """Delete the mirror refs older versions kept under refs/remotes/<remote>/envtrail/.

    Left there, they would stop git from (re)creating the remote-tracking ref of a store
    branch named ``envtrail``. Only the two names sync wrote and read go: ``events`` and
    ``proposals/*``; nothing reads them any more, so a stale one is never trusted.
    """
    old = f"refs/remotes/{up.remote}/envtrail/"
    listed = _git(root, "for-each-ref", "--format=%(refname)", old + "events",
                  old + "proposals/").stdout.split()
    if listed:
        _git(root, "update-ref", "--stdin", data="".join(f"delete {ref}\n" for ref in listed))


@dataclass(frozen=True)
class RefUpdate:
    """One ref a push moves: to ``commit`` (None deletes it), only if it is at ``expected``."""

    ref: str
    commit: str | None
    expected: str | None


def track(root: Path, up: Upstream, commit: str) -> None:
    """Point the remote-tracking ref at ``commit`` (what sync accepted or pushed)."""
    _git(root, "update-ref", "-m", "envtrail: sync", up.tracking_ref, commit)


def push(root: Path, up: Upstream, commit: str, expected: str | None) -> bool:
    """Move the remote branch to ``commit`` only if it is still at ``expected``.

    False if the remote moved meanwhile. A remote ref that stays locked is a
    ConflictError (try again later); a push the remote refuses is AccessDenied.
    """
    return push_refs(root, up, [RefUpdate(up.remote_ref, commit, expected)])


def push_refs(root: Path, up: Upstream, updates: list[RefUpdate]) -> bool:
    """Move every ref in ``updates`` on the remote, all or none (``--atomic``), each only
    if it is still where this clone last saw it; False if any of them moved meanwhile."""
    leases = [f"--force-with-lease={u.ref}:{u.expected or ''}" for u in updates]
    specs = [f"{u.commit or ''}:{u.ref}" for u in updates]
    atomic = ["--atomic"] if len(updates) > 1 else []
    marks.began()  # the remote may take the push before git returns (a slow hook)
    for attempt in range(1, LOCK_RETRIES + 1):
        # No hooks, as envtrail commits without them: sync verified what it pushes (the
        # pre-push hook would walk the line again for plain pushes' sake).
        proc = _git(root, "push", "--porcelain", "--quiet", "--no-verify", *atomic, *leases,
                    up.remote, *specs)
        if proc.returncode == 0:
            return True
        text = proc.stdout + proc.stderr
        if atomic and "does not support --atomic" in text:
            atomic = []  # an old server: each ref still moves only under its own lease
            continue
        if "(stale info)" in text:
            return False
        if "cannot lock ref" not in text and ".lock': File exists" not in text:
            if "[rejected]" in text:
                return False
            break
        time.sleep(LOCK_WAIT * attempt)
    else:
        raise ConflictError(f"{up.remote}'s {up.branch} stayed locked by another push; "
                            "nothing was pushed", hint="run `envtrail sync` again in a moment")
    if "[remote rejected]" in text:
        raise AccessDenied(f"{up.remote} refused the push: {_rejection(proc.stdout)}")
    raise ConflictError(f"pushing to {up.remote} failed: {_last_line(proc.stderr or text)}")


def _rejection(porcelain: str) -> str:
    for line in porcelain.splitlines():
        if "[remote rejected]" in line:
            return line.split("[remote rejected]", 1)[1].strip()[:200]
    return "no reason given"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no output"


def unshallow(root: Path, remote: str = "origin") -> bool:
    """Fetch the history a shallow clone lacks; True if the clone is complete afterwards.

    The store line holds only envtrail commits, so this is cheap; reads need
    the whole line to find its genesis.
    """
    if _git(root, "remote", "get-url", remote).returncode != 0:
        return False
    return _git(root, "fetch", "--quiet", "--no-tags", "--unshallow", remote).returncode == 0


# -- the remote head last seen -------------------------------------------


def _seen_path(root: Path) -> Path:
    return state_dir(root) / "remote.json"


# Heads seen, by remote and then by branch: a remote's name may hold a slash
# (`team/origin`, attack29 P3; `team/mirror` beside `team`, review17 B2), so no joined
# string could say where the remote's name ends.
_HEADS = "heads"


def _load(root: Path) -> dict:
    try:
        doc = json.loads(_seen_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _heads(doc: dict) -> dict[str, dict[str, str]]:
    """The record's heads, remote -> branch -> commit (what is not so, left out)."""
    found = doc.get(_HEADS)
    if not isinstance(found, dict):
        return {}
    return {remote: {b: c for b, c in branches.items() if isinstance(c, str)}
            for remote, branches in found.items() if isinstance(branches, dict)}


def last_seen(root: Path, up: Upstream) -> str | None:
    """The remote head this clone last accepted from (or pushed to) ``up``."""
    doc = _load(root)
    value = _heads(doc).get(up.remote, {}).get(up.branch)
    if value is None:
        value = doc.get(str(up))  # recorded before remote and branch were kept apart
    return value if isinstance(value, str) else None


def seen_heads(git: GitRepo, branch: str) -> list[str]:
    """Every head of ``branch`` this clone last saw on any remote: what sync accepted
    from or pushed to each (a remote since removed too: forgetting its head would let a
    stale line onto a lost branch), and git's remote-tracking refs (a plain fetch, the
    clone) of each remote this clone names."""
    doc = _load(git.root)
    found = [by_branch[branch] for by_branch in _heads(doc).values() if branch in by_branch]
    # Recorded as "<remote>/<branch>" by an older envtrail: read as it then was, the
    # remote one this clone names, else none whose name begins the key (origin/evil/main
    # is another branch of origin, attack28 P2).
    remotes = set(git.remote_names())
    names = {f"{remote}/{branch}" for remote in remotes}

    def recorded(key: str) -> bool:
        return key in names or (key.endswith("/" + branch) and not any(
            key.startswith(remote + "/") for remote in remotes))

    found += [value for key, value in doc.items()
              if isinstance(key, str) and isinstance(value, str) and recorded(key)]
    for name in names:
        target = git.ref_target(f"refs/remotes/{name}")
        if target is not None:
            found.append(target)
    return list(dict.fromkeys(found))


def remember_seen(root: Path, up: Upstream, commit: str) -> None:
    """Record ``commit`` as the remote head: the remote may only move forward from it."""
    def record(doc: dict) -> None:
        heads = _heads(doc)
        heads.setdefault(up.remote, {})[up.branch] = commit
        doc[_HEADS] = heads  # (an older envtrail's key stays: it may be another's head)
    _update(root, record)


def _update(root: Path, change: Callable[[dict], None]) -> None:
    """Change the record in place, atomically (a crash leaves the old file)."""
    target = _seen_path(root)
    doc = _load(root)
    change(doc)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.replace(tmp, target)


def seen_refs(root: Path, up: Upstream) -> dict[str, str]:
    """The remote's ``refs/envtrail/*`` (events, proposals) as this clone last synced them."""
    value = _load(root).get(f"{up.remote} refs", {})
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def remember_refs(root: Path, up: Upstream, refs: dict[str, str]) -> None:
    """Record the remote's ``refs/envtrail/*`` as they are after a sync."""
    def record(doc: dict) -> None:
        doc[f"{up.remote} refs"] = dict(sorted(refs.items()))
    _update(root, record)


def forget_seen(root: Path) -> None:
    """Forget every remote head this clone saw (after it accepted a reviewed rewrite)."""
    _seen_path(root).unlink(missing_ok=True)


def refuse_going_back(git: GitRepo, up: Upstream, incoming: str | None) -> None:
    """IntegrityError (exit 5) if the remote branch no longer holds the head this clone
    last saw there: a remote rewound or rewritten is refused before anything is taken."""
    seen = last_seen(git.root, up) or git.ref_target(up.tracking_ref)
    if seen is None:
        return
    if incoming is None:
        raise IntegrityError(f"{up} is gone from the remote, which had {seen[:10]} before; "
                             "nothing was changed", hint="ask whoever deleted it; see "
                                                         "docs/git-workflow.md")
    if not git.first_parents(incoming, seen)[1]:  # on the line, not merely reachable
        raise IntegrityError(
            f"{up} no longer contains {seen[:10]}, the head this clone last saw there "
            "(the remote was rewound or rewritten); nothing was changed",
            hint="ask whoever force-pushed it; see docs/git-workflow.md")
