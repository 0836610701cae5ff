"""Commands that fit envtrail into git: hook, merge-driver, sync."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from envtrail.cli.common import (
    IdentityOpt,
    ReasonOpt,
    RepoOpt,
    load_identity,
    open_git,
    out,
    short,
)

hook_app = typer.Typer(help="The pre-commit check, for git hooks and the pre-commit framework.",
                       no_args_is_help=True)


@hook_app.command("pre-commit")
def pre_commit(
    files: Annotated[list[str] | None, typer.Argument(
        metavar="[FILES...]", help="Staged files to check (default: everything staged).")] = None,
    repo: RepoOpt = None,
) -> None:
    """Refuse staged plaintext .env values and hand edits to envs/ or .envtrail/."""
    from envtrail.cli.common import runtime
    from envtrail.errors import FindingsError
    from envtrail.ops.hook import check_staged

    refusals = check_staged(_git_repo(repo), files or None, runtime().env.get("GIT_INDEX_FILE"))
    for r in refusals:
        sys.stderr.write(f"envtrail: refused {r.path}: {r.reason}\n  instead: {r.instead}\n")
    if refusals:
        raise FindingsError("commit refused")


@hook_app.command("install")
def install(
    force: Annotated[bool, typer.Option("--force", help="Replace a hook that is not envtrail's.")] = False,
    repo: RepoOpt = None,
) -> None:
    """Write .git/hooks/pre-commit to run `envtrail hook pre-commit`."""
    from envtrail.ops.hook import install as do_install

    out(f"installed {do_install(_git_repo(repo), force)}")


def _git_repo(repo: str | None):
    """The hook works in any git repository, a store or not (it guards .env files too)."""
    from pathlib import Path

    from envtrail.cli.common import GLOBALS, runtime
    from envtrail.errors import NotFoundError
    from envtrail.gitstore.discover import find_git_root
    from envtrail.gitstore.repo import GitRepo

    chosen = repo or GLOBALS.repo
    start = Path(chosen) if chosen else runtime().cwd
    root = find_git_root(start.resolve())
    if root is None:
        raise NotFoundError("not inside a git repository")
    return GitRepo(root)


def merge_driver(
    base: Annotated[str, typer.Argument(metavar="BASE", help="%O: the common ancestor's file.")],
    ours: Annotated[str, typer.Argument(metavar="OURS", help="%A: ours; the result goes here.")],
    theirs: Annotated[str, typer.Argument(metavar="THEIRS", help="%B: theirs.")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="%P: the file's path in the repo.")],
    identity: IdentityOpt = None,
) -> None:
    """Git merge driver for envs/*.yaml: three-way merge per variable and per member."""
    from pathlib import Path

    from envtrail.errors import AccessDenied
    from envtrail.ops.merge import merge_files

    try:
        me = load_identity(identity)  # only needed when one side rotated the key
    except AccessDenied:
        me = None
    base_data = Path(base).read_bytes()
    result = merge_files(base_data or None, Path(ours).read_bytes(), Path(theirs).read_bytes(),
                         path, me)
    Path(ours).write_bytes(result)


def sync(
    remote: Annotated[str | None, typer.Option(
        "--remote", metavar="NAME", help="Remote to sync with (default: the branch's upstream).")] = None,
    reason: ReasonOpt = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Fetch, merge per variable with a signed merge commit, push. Never rebases."""
    from envtrail.audit.record import render_change
    from envtrail.cli.common import runtime
    from envtrail.ops.sync import sync as do_sync

    result = do_sync(open_git(repo), runtime(), load_identity(identity), remote, reason)
    where = f"{result.upstream.remote}/{result.upstream.branch}"
    messages = {
        "up-to-date": f"up to date with {where}",
        "pushed": f"pushed {short(result.commit)} to {where}",
        "fast-forward": f"fast-forwarded to {where} ({short(result.commit)})",
        "merged": f"merged {where} and pushed [{short(result.commit)}]",
    }
    out(messages[result.outcome])
    if result.record is not None:
        for change in result.record.changes:
            out(f"  {render_change(change)}")


def register(app: typer.Typer, only: str | None = None) -> None:
    """Attach these commands (or just ``only``) to the application."""
    if only in (None, "hook"):
        app.add_typer(hook_app, name="hook")
    if only is None:
        app.command("merge-driver")(merge_driver)
        app.command("sync")(sync)
