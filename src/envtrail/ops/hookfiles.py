"""Where envtrail's git hooks live and the files ``hook install`` writes there (light: the
status report asks it without loading the checks themselves)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from envtrail.errors import UsageError
from envtrail.gitstore.discover import git_dir
from envtrail.gitstore.repo import GitRepo

MARKER = "# envtrail pre-commit hook"

# git runs pre-merge-commit for a merge it commits itself, pre-push before it sends anything.
HOOKS = ("pre-commit", "pre-merge-commit", "pre-push")


def hook_paths(git: GitRepo) -> list[Path]:
    """Where git looks for each of envtrail's hooks (``core.hooksPath`` or .git/hooks)."""
    hooks = git.config_get("core.hooksPath")
    folder = (git.root / hooks) if hooks else git_dir(git.root) / "hooks"
    return [folder / name for name in HOOKS]


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a hook ``install`` wrote."""
    return path.is_file() and MARKER in path.read_text(errors="replace")


def runs_envtrail(path: Path) -> bool:
    """Whether ``path`` runs envtrail's check: written by ``install``, or another tool's
    hook that calls it as the note ``install`` gave says."""
    return is_ours(path) or (path.is_file() and f"envtrail hook {path.name}"
                             in path.read_text(errors="replace"))


def install(git: GitRepo, force: bool) -> tuple[list[Path], list[str]]:
    """Write plain ``pre-commit``, ``pre-merge-commit`` and ``pre-push`` hooks that run
    envtrail: the paths written, and a note for each hook left alone.

    A commit hook that is not envtrail's is left alone (UsageError, nothing written)
    unless ``force``. A ``pre-push`` that is not is left alone whatever ``force`` says
    (another tool, git-lfs say, needs it): the note says what to add to it.
    """
    paths, notes = hook_paths(git), []
    for path in paths:
        if path.name != "pre-push" and path.exists() and not is_ours(path) and not force:
            raise UsageError(f"{path} exists and is not envtrail's",
                             hint=f"pass --force to replace it, or call `envtrail hook "
                                  f"{path.name}` from it")
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    written = []
    for path in paths:
        if path.name == "pre-push" and path.exists() and not is_ours(path):
            # Both hooks read git's refs from stdin: whoever reads first starves the other.
            notes.append(f"{path} is another tool's: to refuse pushes of a store line that "
                         "does not verify, give envtrail its own copy of git's input there "
                         f"first: `refs=$(cat); printf '%s\\n' \"$refs\" | {python} -m "
                         "envtrail hook pre-push \"$@\" || exit 1`, then pipe \"$refs\" into "
                         "the other tool's command the same way")
            continue
        path.write_text(
            "#!/bin/sh\n"
            f"{MARKER}: refuses plaintext .env files, hand edits to envs/ and .envtrail/, "
            "merges on the store branch, and pushes of a store line that does not verify\n"
            f'if command -v envtrail >/dev/null 2>&1; then exec envtrail hook {path.name} "$@"; fi\n'
            f'exec {python} -m envtrail hook {path.name} "$@"\n'
        )
        path.chmod(0o755)
        written.append(path)
    return written, notes
