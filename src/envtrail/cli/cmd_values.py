"""Commands on variables: set, get, unset, list, import, export, run."""

# No `from __future__ import annotations`: typer reads these signatures on every
# run, and annotations kept as strings would be parsed again each time.
import sys
from typing import Annotated

import typer

from envtrail.cli.common import (
    BreakGlassOpt,
    EnvOpt,
    IdentityOpt,
    JsonOpt,
    ProposeOpt,
    ReasonOpt,
    RepoOpt,
    complete_key,
    emit_json,
    last_changes,
    load_identity,
    open_git,
    out,
    report_write,
    route,
    runtime,
    store_root,
    warn,
)

AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="REV|TIME", help="Read as of a revision or a time (ISO 8601, '2h ago').")]
NoVerifyOpt = Annotated[bool, typer.Option(
    "--no-verify", help="Read even if the history does not verify (says so on stderr).")]


def set_(
    keys: Annotated[list[str] | None, typer.Argument(
        metavar="KEY...", help="Variables to set (KEY or KEY=-); values come from stdin.")] = None,
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    from_file: Annotated[str | None, typer.Option(
        "--from-file", metavar="FILE", help="Read KEY=value pairs from a dotenv file.")] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="Keep every piped byte, even the final newline of a one-line value.")] = False,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Accept an empty value (refused by default).")] = False,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Set variables. Values come from piped stdin, a hidden prompt or --from-file; never argv.

    Piped stdin is the value byte for byte, except that one final newline is
    dropped from a single-line value, so `echo v | envtrail set K` stores "v";
    --raw keeps it. A multi-line value (a PEM or OpenSSH key file) keeps its
    final newline. An empty value is refused (exit 2) unless --allow-empty.
    With several KEYs, stdin is a dotenv document.
    """
    from envtrail.cli.secret_input import collect
    from envtrail.ops import values
    from envtrail.ops.preflight import check_write

    names = values.parse_assignment_args(_only_names(keys or []))
    git = open_git(repo)
    me = load_identity(identity)
    how = route(propose, break_glass)
    check_write(git, runtime(), me, env, reason, how)  # before any prompt: never ask in vain
    written = values.write_values(git, runtime(), me, env,
                                  collect(names, from_file, raw, allow_empty), set(),
                                  reason, "set", how)
    report_write(written, env)


def _only_names(keys: list[str]) -> list[str]:
    """Refuse positionals that may be a value typed where a name belongs (`set KEY VALUE`).

    Such an argument is never echoed: it may be the secret itself.
    """
    import re

    from envtrail.errors import UsageError

    hint = ("values are never taken from the command line: run `envtrail set KEY` and pipe "
            "the value or answer the prompt; for several variables use --from-file")
    for i, item in enumerate(keys, 1):
        name, sep, rest = item.partition("=")
        if sep and rest != "-":
            continue  # parse_assignment_args refuses KEY=value and says why
        if len(name) > 256 or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"argument {i} of `set` is not a variable name", hint=hint)
        # Several names must look like names: a lowercase or mixed argument next
        # to a name is most likely `set KEY value` with the value in argv.
        if len(keys) > 1 and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise UsageError(f"argument {i} of `set` does not look like a variable name "
                             "(several names must be UPPER_CASE)", hint=hint)
    return keys


def get(
    key: Annotated[str, typer.Argument(metavar="KEY", help="Variable to print.",
                                       autocompletion=complete_key)],
    env: EnvOpt = ...,  # type: ignore[assignment]
    at: AtOpt = None,
    no_verify: NoVerifyOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Print one plaintext value exactly (on a terminal: a newline follows, and control
    characters are escaped)."""
    from envtrail.ops.fastread import read_verified

    result = read_verified(runtime(), store_root(repo), load_identity(identity), env, [key], at,
                           verify=not no_verify)
    for w in result.warnings:
        warn(w)
    if sys.stdout.isatty():
        sys.stdout.write(_for_terminal(result.values[key].reveal()) + "\n")
    else:
        sys.stdout.write(result.values[key].reveal())


def unset(
    keys: Annotated[list[str], typer.Argument(metavar="KEY...", help="Variables to remove.")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Remove variables."""
    from envtrail.ops import values

    written = values.write_values(open_git(repo), runtime(), load_identity(identity), env, {},
                                  set(keys), reason, "unset", route(propose, break_glass))
    report_write(written, env)


def list_(
    env: EnvOpt = ...,  # type: ignore[assignment]
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List variable names with their last change; never values. Needs no key; with one,
    the changes are checked against the values."""
    from envtrail.cli.render import credited, table

    rows = last_changes(env, repo, identity)
    if json_:
        emit_json([{k: r.as_dict()[k] for k in ("key", "time", "actor", "commit",
                                                 "fingerprint_checked", "verified",
                                                 "acknowledged")} for r in rows])
        return
    table(["variable", "changed", "by"],
          [[r.key, r.time, credited(r.actor, r.verified, r.acknowledged)] for r in rows])


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A .env file ('-' for stdin).")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Also remove variables that are not in FILE.")] = False,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Import a .env file as one commit, with the values python-dotenv would give the application.

    The file is read as python-dotenv's dotenv_values(path) reads it: CRLF and CR
    line endings become LF (inside quoted values too), and ${NAME} or
    ${NAME:-default} is expanded from variables defined above it in the file; a
    reference to anything else is refused, never taken from this machine's
    environment. An error names the line number, never the line.
    """
    from envtrail.cli.secret_input import read_dotenv_file
    from envtrail.model import check_value
    from envtrail.ops import values

    how = route(propose, break_glass)
    parsed = {k: check_value(v) for k, v in read_dotenv_file(file).items()}
    written = values.import_values(open_git(repo), runtime(), load_identity(identity), env,
                                   parsed, reason, prune, how)
    report_write(written, env)


def _formats(incomplete: str) -> list[str]:
    from envtrail.format.exports import FORMATS

    return [f for f in FORMATS if f.startswith(incomplete)]


def export(
    env: EnvOpt = ...,  # type: ignore[assignment]
    fmt: Annotated[str, typer.Option(
        "--format", metavar="dotenv|json|shell|docker",
        help="Output format: dotenv (python-dotenv, node's dotenv, safe to source), json, "
             "shell (export lines for sh/bash) or docker (docker run --env-file).",
        autocompletion=lambda incomplete: _formats(incomplete))] = "dotenv",
    at: AtOpt = None,
    no_verify: NoVerifyOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Print all decrypted values of an environment, exactly (on a terminal, control
    characters are escaped).

    A value the chosen format cannot carry exactly is refused (exit 2) by name,
    with the formats that can carry it; docs/formats.md has the table.
    """
    from envtrail.format import exports
    from envtrail.ops.fastread import read_verified

    exports.check_format(fmt)
    result = read_verified(runtime(), store_root(repo), load_identity(identity), env, None, at,
                           verify=not no_verify)
    for w in result.warnings:
        warn(w)
    text = exports.render({k: v.reveal() for k, v in result.values.items()}, fmt)
    sys.stdout.write(_for_terminal(text) if sys.stdout.isatty() else text)


def _for_terminal(text: str) -> str:
    """``text`` with the characters that drive a terminal escaped, line by line, and a
    warning when there were any (attack26 T1). A value is another member's bytes: one can
    hold an escape that writes the reader's clipboard or rewrites the line above. Only a
    terminal gets this; a pipe or a file gets the value exactly."""
    from envtrail.cli.render import inert

    shown = "\n".join(inert(line) for line in text.split("\n"))
    if shown != text:
        warn("control characters escaped for this terminal; redirect or pipe the output "
             "to get the value exactly")
    return shown


def run(
    command: Annotated[list[str], typer.Argument(metavar="-- CMD...", help="Command to run.")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    no_verify: NoVerifyOpt = False,
    event: Annotated[str | None, typer.Option(
        "--event", metavar="KIND", help="When CMD ends, record an event of this kind with its "
                                        "exit status, start time and duration.")] = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", "-r", metavar="TEXT", help="With --event: the event's reason.")] = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> int:
    """Run a command with the environment's variables set; exit with its status.

    Exits 127 if the command cannot be started, and 2 without starting it if
    the OS cannot pass a variable (Linux: 128 KiB per NAME=value, and a total
    for arguments and environment), naming the variable and the limit.
    """
    from envtrail.ops.fastread import read_verified
    from envtrail.ops.runner import run_command

    claimed = None
    if event is not None:  # (only then: it imports git, which a plain `run` need not)
        from envtrail.ops.events import check_claims

        # An event that could never be written is refused before CMD starts, not after.
        claimed = event, check_claims(event, env, reason or f"{event} via envtrail run")
    rt = runtime()
    me = load_identity(identity)
    result = read_verified(rt, store_root(repo), me, env, None, None, verify=not no_verify)
    for w in result.warnings:
        warn(w)
    sys.stdout.flush()
    if claimed is None:
        raise typer.Exit(run_command(command, rt.env, result))
    import time

    start, clock = rt.now(), time.monotonic()
    status = run_command(command, rt.env, result)
    _record_run(repo, me, *claimed, env, status, start, time.monotonic() - clock,
                result.commit)
    raise typer.Exit(status)


def _record_run(repo: str | None, me, kind: str, reason: str, env: str, status: int,
                start, duration: float, ran_with: str) -> None:
    """The event of one ``run --event``; a failure to record it never changes CMD's status."""
    from envtrail.errors import EnvtrailError
    from envtrail.ops.events import Claims, record_event

    try:
        written = record_event(open_git(repo), runtime(), me, kind, env, reason,
                               Claims(status=str(status), start=start, duration=duration),
                               ran_with)
    except EnvtrailError as exc:
        warn(f"the {kind} event was not recorded: {exc.message}")
        return
    sys.stderr.write(f"envtrail: recorded event {kind} [{written.commit[:10]}] "
                     f"status {status}\n")


def edit(
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Edit the decrypted variables in $VISUAL/$EDITOR; writes only what changed, as one commit.

    The reason, the policy and the approvals the change needs (--propose or
    --break-glass) are checked before the editor opens, so no edit is lost.
    """
    from envtrail.ops.edit import edit as do_edit

    how = route(propose, break_glass)
    written = do_edit(open_git(repo), runtime(), load_identity(identity), env, reason, how)
    if written is None:
        out(f"{env}: nothing changed")
    else:
        report_write(written, env)


_COMMANDS = {"set": set_, "get": get, "unset": unset, "list": list_, "import": import_,
             "export": export, "run": run, "edit": edit}


def register(app: typer.Typer, only: str | None = None) -> None:
    """Attach these commands (or just ``only``) to the application."""
    for name, fn in _COMMANDS.items():
        if only in (None, name):
            settings = {"ignore_unknown_options": True} if name == "run" else None
            app.command(name, context_settings=settings)(fn)
