"""Fetch and push through the `git` command, so every remote git reaches works
(paths, git://, SSH and HTTPS with the user's own credentials and helpers)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from envtrail.errors import ConflictError, NotFoundError, UsageError


@dataclass(frozen=True)
class Upstream:
    """Where a branch syncs: remote name and the branch name there."""

    remote: str
    branch: str

    @property
    def tracking_ref(self) -> str:
        """The local ref that mirrors the remote branch."""
        return f"refs/remotes/{self.remote}/{self.branch}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=False, stdin=subprocess.DEVNULL)
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


def fetch(root: Path, up: Upstream) -> bool:
    """Update the tracking ref; False if the remote branch does not exist yet."""
    spec = f"+refs/heads/{up.branch}:{up.tracking_ref}"
    proc = _git(root, "fetch", "--quiet", "--no-tags", up.remote, spec)
    if proc.returncode == 0:
        return True
    if "couldn't find remote ref" in proc.stderr.lower():
        return False
    raise ConflictError(f"fetching from {up.remote} failed: {_last_line(proc.stderr)}")


def push(root: Path, up: Upstream, commit: str) -> bool:
    """Push ``commit`` to the remote branch; False if it was rejected as not a fast-forward."""
    proc = _git(root, "push", "--porcelain", "--quiet", up.remote,
                f"{commit}:refs/heads/{up.branch}")
    if proc.returncode == 0:
        return True
    text = proc.stdout + proc.stderr
    if "[rejected]" in text or "non-fast-forward" in text or "fetch first" in text:
        return False
    if "[remote rejected]" in text:
        raise UsageError(f"{up.remote} refused the push: {_last_line(text)}")
    raise ConflictError(f"pushing to {up.remote} failed: {_last_line(proc.stderr or text)}")


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
