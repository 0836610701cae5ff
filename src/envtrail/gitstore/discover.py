"""Finding the store and the Git directory without loading pygit2."""

from __future__ import annotations

import re
from pathlib import Path

STORE_DIR = ".envtrail"


def find_git_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a ``.git`` entry."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def find_store(start: Path) -> Path | None:
    """The nearest Git work tree at or above ``start`` that is a store: its work tree
    holds ``.envtrail/``, or its config names a store branch (a store beside code)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder if is_store(folder) else None
    return None


def is_store(root: Path) -> bool:
    """Whether the Git work tree at ``root`` is an envtrail store."""
    from envtrail.gitstore.refs import configured_store_ref

    return (root / STORE_DIR).is_dir() or configured_store_ref(root) is not None


def git_dir(root: Path) -> Path:
    """The Git directory of this work tree (follows a ``gitdir:`` file for worktrees): what
    belongs to one checkout only, its HEAD, index and a merge in progress."""
    dot_git = root / ".git"
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return target if target.is_absolute() else (root / target).resolve()
    return dot_git


def common_dir(root: Path) -> Path:
    """The Git directory every work tree of the clone shares (``git rev-parse
    --git-common-dir``): refs, objects, config, hooks, and envtrail's own state."""
    gdir = git_dir(root)
    try:
        # A linked worktree's git dir names the shared one; the main one's is it.
        rel = (gdir / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return gdir
    return (gdir / rel).resolve() if rel else gdir


def hooks_dir(root: Path, hooks_path: str | None, home: Path) -> Path | None:
    """Where git runs this clone's hooks from, given its ``core.hooksPath`` (None: unset):
    the common Git directory's ``hooks``, shared by every worktree, or ``core.hooksPath``
    read as git reads it (a leading ``~`` is ``home``; a relative path starts at the work
    tree, where git runs hooks). None where git runs no hooks at all (an empty value)."""
    if hooks_path is None:
        return common_dir(root) / "hooks"
    if not hooks_path:
        return None
    if hooks_path == "~" or hooks_path.startswith("~/"):
        return home / hooks_path[2:]
    if hooks_path.startswith("~"):
        return Path(hooks_path).expanduser()  # ~user/...: that user's home, as git has it
    return root / hooks_path  # an absolute path stays as it is


def state_dir(root: Path) -> Path:
    """Where envtrail keeps its private state (lock, genesis pin, verify checkpoint, the
    journal of unpushed writes, the remote heads last seen): in the common Git directory,
    since it describes the store branch and refs every worktree of the clone shares."""
    return common_dir(root) / "envtrail"


def lock_path(root: Path) -> Path:
    """The file every local envtrail writer locks (see :mod:`envtrail.gitstore.lock`): one
    for all worktrees of a clone, since they move the same branch."""
    return state_dir(root) / "lock"


def journal_path(root: Path) -> Path:
    """The record of a write in flight (present only while one is, or after a crash). Kept
    per worktree: recovering from it refreshes the work tree and index the write left
    half done, which are this checkout's own."""
    return git_dir(root) / "envtrail" / "journal.json"


def uses_sha256(root: Path) -> bool:
    """Whether the repository at ``root`` says it uses SHA-256 object ids (which libgit2,
    and so envtrail, cannot open)."""
    try:
        text = (common_dir(root) / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*objectformat\s*=\s*sha256\s*$", text, re.I | re.M) is not None
