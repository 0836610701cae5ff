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
    """The Git directory of a work tree (follows a ``gitdir:`` file for worktrees)."""
    dot_git = root / ".git"
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            target = Path(text[len("gitdir:"):].strip())
            return target if target.is_absolute() else (root / target).resolve()
    return dot_git


def state_dir(root: Path) -> Path:
    """Where envtrail keeps its private state (lock, journal, verify checkpoint)."""
    return git_dir(root) / "envtrail"


def lock_path(root: Path) -> Path:
    """The file every local envtrail writer locks (see :mod:`envtrail.gitstore.lock`)."""
    return state_dir(root) / "lock"


def journal_path(root: Path) -> Path:
    """The record of a write in flight (present only while one is, or after a crash)."""
    return state_dir(root) / "journal.json"


def uses_sha256(root: Path) -> bool:
    """Whether the repository at ``root`` says it uses SHA-256 object ids (which libgit2,
    and so envtrail, cannot open)."""
    try:
        text = (git_dir(root) / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*objectformat\s*=\s*sha256\s*$", text, re.I | re.M) is not None
