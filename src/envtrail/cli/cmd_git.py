"""Commands that fit envtrail into git: hook, merge-driver, sync."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from envtrail.cli.common import (
    IdentityOpt,
    RepoOpt,
    load_identity,
    open_git,
    out,
    short,
    warn,
)

hook_app = typer.Typer(help="envtrail's git hooks: the commit check (also for the pre-commit "
                            "framework) and the push check.",
                       no_args_is_help=True)


@hook_app.command("pre-commit")
def pre_commit(
    files: Annotated[list[str] | None, typer.Argument(
        metavar="[FILES...]", help="Staged files to check (default: everything staged).")] = None,
    repo: RepoOpt = None,
) -> None:
    """Refuse staged .env files (but empty examples), hand edits to envs/ or .envtrail/, store merges."""
    _check(files, repo, merging=False)


@hook_app.command("pre-merge-commit")
def pre_merge_commit(repo: RepoOpt = None) -> None:
    """The same check for a merge git commits itself: refused on the store branch."""
    _check(None, repo, merging=True)


@hook_app.command("pre-push")
def pre_push(
    remote: Annotated[str | None, typer.Argument(metavar="[REMOTE]",
                                                 help="The remote's name (git passes it).")] = None,
    url: Annotated[str | None, typer.Argument(metavar="[URL]",
                                              help="The remote's URL (git passes it).")] = None,
    repo: RepoOpt = None,
) -> None:
    """Refuse a push of a store line that does not verify here (git's refs on stdin)."""
    from envtrail.cli.common import runtime
    from envtrail.errors import UsageError
    from envtrail.ops.prepush import check_push

    if sys.stdin.isatty():  # by hand it would wait for input that only git gives
        raise UsageError("`hook pre-push` is git's pre-push hook: git runs it with the refs "
                         "it pushes on stdin", hint="install it with `envtrail hook install`")
    refusals, notes = check_push(_git_repo(repo), runtime(), sys.stdin.read(), remote,
                                 _unasked_identity)
    for text in notes:
        warn(text)
    _report(refusals, "push refused")


def _unasked_identity():
    """The pusher's identity if it opens without asking (git runs the hook, perhaps with
    no one to answer), so the line is walked with their key as their reads walk it
    (attack29 F1: a lie only a key sees went on to another remote); else None."""
    from envtrail.errors import EnvtrailError

    try:
        return load_identity(None, ask=False)
    except EnvtrailError:
        return None


def _check(files: list[str] | None, repo: str | None, merging: bool) -> None:
    from envtrail.cli.common import runtime
    from envtrail.ops.hook import check_staged

    _report(check_staged(_git_repo(repo), files or None, runtime().env.get("GIT_INDEX_FILE"),
                         merging), "commit refused")


def _report(refusals: list, what: str) -> None:
    """Each refusal on stderr, then exit 1 if there was one."""
    from envtrail.cli.render import inert
    from envtrail.errors import FindingsError

    for r in refusals:
        # A staged path or a finding may quote anyone's names (from a pulled branch).
        sys.stderr.write(inert(f"envtrail: refused {r.path}: {r.reason}") + "\n"
                         + inert(f"  instead: {r.instead}") + "\n")
    if refusals:
        raise FindingsError(what)


@hook_app.command("install")
def install(
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a commit hook that is not envtrail's (never another tool's "
                        "pre-push).")] = False,
    repo: RepoOpt = None,
) -> None:
    """Write the pre-commit, pre-merge-commit and pre-push hooks that run envtrail's checks,
    where git runs them (core.hooksPath, or the hooks folder all worktrees share); another
    tool's hook is left alone, with what to add to it."""
    from envtrail.cli.common import runtime
    from envtrail.errors import UsageError
    from envtrail.ops.hookfiles import install as do_install

    done = do_install(_git_repo(repo), runtime().home, force)
    for path in done.written:
        out(f"installed {path}")
    for path in done.kept:
        out(f"kept {path}: another tool's hook, which runs envtrail's check")
    for text in done.notes:
        warn(text)
    if done.notes and not done.written:
        raise UsageError("no hook installed: each is another tool's",
                         hint="add envtrail to them as said above, or pass --force to "
                              "replace the commit hooks")


def _git_repo(repo: str | None):
    """The hook works in any git repository, a store or not (it guards .env files too)."""

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
    ours: Annotated[str, typer.Argument(metavar="OURS", help="%A: ours; left as it is.")],
    theirs: Annotated[str, typer.Argument(metavar="THEIRS", help="%B: theirs.")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="%P: the file's path in the repo.")],
) -> None:
    """Git merge driver for store files: refuses every merge and names `envtrail sync`."""
    from envtrail.errors import ConflictError

    # The store line has no merges: any merge of a store file, however clean
    # it looks, would put an unsigned state on the line. The file is left as
    # git gave it (ours) and git records the conflict.
    shown = path.replace("\n", " ")[:200]
    raise ConflictError(f"{shown}: store files are never merged by git",
                        hint="abort with `git merge --abort` (or `git rebase --abort`), "
                             "then run `envtrail sync`")


def sync(
    mine: Annotated[list[str] | None, typer.Option(
        "--mine", metavar="KEY",
        help="Settle a conflict with this clone's change (ENV:KEY where ambiguous, '*' for all).")] = None,
    theirs: Annotated[list[str] | None, typer.Option(
        "--theirs", metavar="KEY",
        help="Settle a conflict with the remote's change, dropping this clone's.")] = None,
    remote: Annotated[str | None, typer.Option(
        "--remote", metavar="NAME", help="Remote to sync with (default: the branch's upstream).")] = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Fetch, check the remote only moved forward, verify it, replay your commits on top, push.

    Never makes a merge commit. The same variable changed here and on the
    remote stops sync (exit 6) until settled with --mine or --theirs.
    """
    from envtrail.cli.common import runtime
    from envtrail.ops.sync import sync as do_sync

    git = open_git(repo)
    me = load_identity(identity)
    result = do_sync(git, runtime(), me, remote, mine or (), theirs or ())
    where = str(result.upstream)
    messages = {
        "up-to-date": f"up to date with {where}",
        "pushed": f"pushed {short(result.commit)} to {where}",
        "fast-forward": f"fast-forwarded to {where} ({short(result.commit)})",
        "replayed": f"replayed your commits on {where} and pushed [{short(result.commit)}]",
    }
    if result.outcome == "replayed" and all(r.commit is None for r in result.replayed):
        messages["replayed"] = f"kept {where}'s side of everything; nothing left to push " \
                               f"({short(result.commit)})"
    out(messages[result.outcome])
    for r in result.replayed:
        if r.unapplied:
            what = (f"not applied: the remote moved past its base, so proposal {r.unapplied} "
                    f"is a proposal again; its author runs `envtrail propose --redo "
                    f"{r.unapplied}`")
        elif r.commit:
            what = f"-> {short(r.commit)}"
        else:
            what = "dropped: the remote's side was kept"
        out(f"  {short(r.original)} ({r.action}) {what}")
    events = result.events
    if events is not None and (events.received or events.replayed or events.update):
        pushed = f", pushed up to {short(events.tip)}" if events.update else ""
        out(f"  events: {events.received} received, {events.replayed} replayed{pushed}")
        for note in events.closed:
            warn(note)
    for note in result.proposals:
        if note.warning:
            warn(note.text)
        else:
            out(f"  proposal {note.proposal}: {note.text}")
    if result.stranded:
        warn(f"after replaying your commits: {result.stranded}")
    for text in result.exposed:
        warn(f"after replaying your commits: {text}")
    for r in result.replayed:
        if r.revoked:
            from envtrail.cli.cmd_access import print_offboarding
            from envtrail.ops.audit import offboarding

            print_offboarding(r.revoked, offboarding(git, runtime(), r.revoked, me))


def register(app: typer.Typer, only: str | None = None) -> None:
    """Attach these commands (or just ``only``) to the application."""
    if only in (None, "hook"):
        app.add_typer(hook_app, name="hook")
    if only is None:
        app.command("merge-driver")(merge_driver)
        app.command("sync")(sync)
