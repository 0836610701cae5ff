"""Shared CLI plumbing: global options, the Runtime, output helpers."""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer

from envtrail.runtime import Runtime


def _completion_root() -> Path | None:
    try:
        return store_root(None)
    except Exception:  # completion must never fail loudly
        return None


def _store_files(root: Path) -> dict[str, bytes]:
    """Environment files by name: from the work tree, or from the store branch where the
    store lives beside application code (names only are used, never values)."""
    folder = root / "envs"
    if folder.is_dir():
        return {p.stem: p.read_bytes() for p in folder.glob("*.yaml")}
    try:
        from envtrail.audit.view import StoreView
        from envtrail.gitstore.repo import GitRepo

        git = GitRepo(root)
        head = git.store_head()
        blobs = StoreView(git).env_blobs(head)
        return {name: git.blob(blob) for name, blob in blobs.items()}
    except Exception:  # completion must never fail loudly
        return {}


def complete_env(incomplete: str) -> list[str]:
    """Shell completion: the store's environment names (no key needed)."""
    root = _completion_root()
    if root is None:
        return []
    return sorted(name for name in _store_files(root) if name.startswith(incomplete))


def complete_key(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: variable names of the --env given so far (names only, no values)."""
    import re

    root, env = _completion_root(), ctx.params.get("env")
    if root is None or not env:
        return []
    text = _store_files(root).get(env, b"").decode("utf-8", "replace")
    _, _, values = text.partition("\nvalues:")
    names = re.findall(r"^  ([A-Za-z_][A-Za-z0-9_]*):", values, flags=re.M)
    return [n for n in names if n.startswith(incomplete)]


# Paths are typed as str on purpose: typer's Path conversion imports more
# than the hot commands should pay for.
RepoOpt = Annotated[str | None, typer.Option(
    "--repo", metavar="PATH", help="The store (default: found from the working folder).")]
IdentityOpt = Annotated[str | None, typer.Option(
    "--identity", metavar="PATH", help="Identity key file to act as.")]
EnvOpt = Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="Environment name.",
                                     autocompletion=complete_env)]
KeysOpt = Annotated[list[str] | None, typer.Option(
    "--key", "-k", metavar="KEY", help="Only this variable (repeatable).",
    autocompletion=complete_key)]
ReasonOpt = Annotated[str | None, typer.Option(
    "--reason", "-r", metavar="TEXT", help="Why this change is made (recorded in the commit).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ProposeOpt = Annotated[bool, typer.Option(
    "--propose", help="Write the change as a proposal for approval; the store line stays.")]
BreakGlassOpt = Annotated[bool, typer.Option(
    "--break-glass", help="Incident: land a change that needs approvals now; it stays flagged "
                          "until approved afterwards.")]


class Globals:
    """Options given before the command (``envtrail --repo X get ...``)."""

    repo: str | None = None
    identity: str | None = None


GLOBALS = Globals()


@cache
def runtime() -> Runtime:
    """The process's Runtime, captured once."""
    return Runtime.from_os()


def store_root(repo: str | None) -> Path:
    """The store's folder (from --repo, ENVTRAIL_REPO or the working folder); no pygit2."""
    from envtrail.ops.locate import locate

    chosen = repo or GLOBALS.repo
    return locate(runtime(), Path(chosen) if chosen else None)


def open_git(repo: str | None) -> Any:
    """The store's GitRepo (from --repo, ENVTRAIL_REPO or the working folder)."""
    from envtrail.gitstore.repo import GitRepo

    return GitRepo(store_root(repo))


def load_identity(identity: str | None, ask: bool = True) -> Any:
    """The caller's Identity (from --identity, the environment or the default path);
    ``ask``: a passphrase is asked for on a terminal where one is needed."""
    from envtrail.cli.secret_input import ask_passphrase
    from envtrail.ops import identity as ident

    chosen = identity or GLOBALS.identity
    return ident.load(runtime(), Path(chosen) if chosen else None,
                      ask_passphrase if ask else None).identity


def optional_identity(identity: str | None) -> tuple[Any, str | None]:
    """The caller's Identity, or None and why not: for reads a keyless auditor may run too.

    A passphrase-protected key is asked for on a terminal as every keyed command asks;
    with no terminal (and no ENVTRAIL_PASSPHRASE) the read goes on without the key.
    """
    from envtrail.errors import AccessDenied

    try:
        return load_identity(identity), None
    except AccessDenied as exc:
        return None, exc.message


def note_unchecked(environment: str, checked: list[bool | None], why: str | None,
                   what: str = "versions", *, git: Any = None, identity: Any = None) -> None:
    """Say on stderr when fingerprints shown were not checked against the values with a
    key (``checked``: one per row, None where the row has no change to check). With the
    reader's ``identity`` and ``git``, a seat of theirs that does not open is named."""
    judged = [c for c in checked if c is not None]
    missing = judged.count(False)
    if not missing:
        return
    no_key, at = f"no key to {environment}", " at those commits"
    if git is not None and identity is not None:
        from envtrail.ops.verifiedline import seat_at_head

        seat = seat_at_head(git, identity, environment)
        if seat == "refused":
            # Listed, yet the walk opened nothing there: never "checked", and say why.
            no_key = f"your seat in {environment} does not open with your key"
            why = why or "it is sealed to another key"
        elif seat == "opens":
            # A member now: what went unchecked predates the key pair sealed to them.
            no_key, at = f"they are from before {environment}'s key was sealed to you", ""
    if missing == len(judged):
        text = f"fingerprints not checked: {no_key}"
    else:
        text = f"fingerprints of {missing} of {len(judged)} {what} not checked: {no_key}{at}"
    warn(text + (f" ({why})" if why else ""))


def last_changes(env: str, repo: str | None, identity: str | None) -> list[Any]:
    """Each variable's last change (``blame`` and ``list``), checked with the reader's key
    where one loads; says on stderr what went unchecked."""
    from envtrail.ops import audit

    me, why = optional_identity(identity)
    git = open_git(repo)
    rows = audit.blame(git, runtime(), env, me)
    note_unchecked(env, [None if r.acknowledged else r.fingerprint_checked for r in rows], why,
                   "last changes",
                   git=git, identity=me)
    return rows


def out(*parts: Any, fold: bool = True) -> None:
    """A line of normal output on stdout, from strings and ``render.paint`` pieces.

    The strings are shown inert on a terminal and in a pipe alike, since any of them
    may come from history and piped output ends on a terminal too (``| grep``,
    ``| less -R``; ``get`` writes its value directly, exact); only envtrail's own
    paint keeps its colour codes. On a terminal, a line wider than the screen is
    folded with a hanging indent (``render.hanging``), so that text from history
    padded to the screen's edge never starts a line of its own at column 0;
    ``fold=False`` leaves a line the reader copies whole (a public key) to the terminal.
    """
    tty = sys.stdout.isatty()
    if tty and fold:
        from envtrail.cli.render import out_folded

        if out_folded(parts):  # wider than the screen: printed folded, indented
            return
    text = "".join(_drawn(part, tty) for part in parts)
    sys.stdout.write(text + "\n")


def _drawn(part: Any, tty: bool) -> str:
    if isinstance(part, str):
        from envtrail.cli.render import inert

        return inert(part)
    from envtrail.cli.render import colour_wanted

    return part.render(tty and colour_wanted())


def warn(text: str) -> None:
    """A warning on stderr, inert: it may quote a name or a message from history."""
    from envtrail.cli.render import inert

    sys.stderr.write(f"envtrail: warning: {inert(text)}\n")


def emit_json(obj: object) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json_text(obj, indent=2) + "\n")


def json_text(obj: object, indent: int | None = None) -> str:
    """``obj`` as JSON, readable UTF-8, whatever names history holds: the characters a
    terminal would act on or hide (DEL, C1, bidi overrides, U+2028, a byte that is not
    UTF-8) written as JSON escapes (``\\u202e``), which a JSON reader reads back as the same data."""
    from envtrail.cli.render import json_safe

    return json_safe(json.dumps(obj, ensure_ascii=False, indent=indent, default=str))


def short(commit: str | None) -> str:
    """An abbreviated commit id."""
    return commit[:10] if commit else "-"


def pin_next(commit: str | None) -> None:
    """After a security decision: the id CI should pin, so no line without it passes."""
    if commit:
        out(f"pin next: ENVTRAIL_TRUST_ROOT={commit}")


def route(propose: bool = False, break_glass: bool = False) -> Any:
    """The ops Route for ``--propose`` / ``--break-glass``."""
    from envtrail.ops.routing import Route

    return Route(propose, break_glass)


def report_write(written: Any, what: str) -> None:
    """Tell the user what a write committed (or proposed)."""
    if written.commit is None:
        out(f"{what}: nothing changed")
        return
    from envtrail.audit.record import subject

    if getattr(written, "proposal", None):
        _report_proposal(written.record, written.proposal)
        return
    out(f"{subject(written.record)} [{short(written.commit)}]")
    _warn_break_glass(written.commit, getattr(written, "flagged", False))


def report_restore(record: Any, commit: str | None, dry_run: bool, would: str, done: str = "",
                   proposal: str | None = None, flagged: bool = False,
                   warnings: tuple[str, ...] = ()) -> None:
    """What a rollback or revert did (or, for a dry run, would do), change by change, masked,
    and the values it puts back that someone no longer seated could read."""
    from envtrail.audit.record import render_change, subject

    if proposal and not dry_run:
        _report_proposal(record, proposal)
    else:
        out(would if dry_run else f"{subject(record)} [{short(commit)}]{done}")
        if not dry_run:
            _warn_break_glass(commit, flagged)
    for change in record.changes:
        out(f"  {render_change(change)}")
    for text in warnings:
        warn(text)


def _report_proposal(record: Any, proposal: str) -> None:
    from envtrail.audit.record import subject

    out(f"proposed {subject(record)} as {proposal} (the store line did not move)")
    out(f"  approvers run `envtrail review {proposal}` and `envtrail approve {proposal} "
        f"--reason ...`; then `envtrail apply {proposal}`")


def _warn_break_glass(commit: str | None, flagged: bool) -> None:
    if commit and flagged:
        warn("break-glass: this change stays flagged until approvers run "
             f"`envtrail approve {commit[:12]} --reason ...`")
