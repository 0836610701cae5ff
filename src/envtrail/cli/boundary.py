"""The one place where exceptions become exit codes and one-line messages."""

from __future__ import annotations

import sys
from typing import Any


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _quiet_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _say_interrupts(command: Any, abort: type[Exception]) -> None:
    """typer ends a command Ctrl-C interrupts with a silent exit 130 (its prompts already
    raise Abort); as Abort, every interrupt reaches this boundary, which says so."""
    invoke = command.invoke

    def invoke_saying(ctx: Any) -> Any:
        try:
            return invoke(ctx)
        except KeyboardInterrupt:
            raise abort() from None

    command.invoke = invoke_saying


def run(argv: list[str] | None) -> int:
    """Run the CLI; return the exit code. Never lets a traceback reach the user."""
    from typer import Abort

    from envtrail.errors import EnvtrailError, FindingsError

    try:  # typer >= 0.26 vendors click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older typer with a separate click
        from click import exceptions as click_exc  # type: ignore[no-redef]

    from envtrail.cli.common import runtime
    from envtrail.gitstore import marks

    marks.reset()  # (in-process callers run several commands)
    debug = runtime().flag("ENVTRAIL_DEBUG")
    try:
        import typer.main

        from envtrail.cli.app import build
        from envtrail.cli.helpstyle import conventional
        from envtrail.cli.lighten import lighten

        args = list(sys.argv[1:] if argv is None else argv)
        command = typer.main.get_command(build(args))
        lighten(command)
        conventional(command)
        _say_interrupts(command, Abort)
        rv = command.main(args=args, prog_name="envtrail", standalone_mode=False)
    except FindingsError as exc:
        return exc.exit_code  # the command has already printed its findings
    except EnvtrailError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        # A message may quote a finding, and a finding a name from a forged tree.
        from envtrail.cli.render import inert

        _say(f"envtrail: error: {inert(exc.message)}")
        if exc.hint:
            _say(f"hint: {inert(exc.hint)}")
        return exc.exit_code
    except click_exc.NoArgsIsHelpError as exc:
        # `envtrail` or a group with no subcommand: show help, as git does.
        _say(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 2
    except click_exc.ClickException as exc:
        _say(f"envtrail: error: {exc.format_message()}")
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            _say(f"hint: see `{ctx.command_path} --help`")
        return exc.exit_code
    except (Abort, KeyboardInterrupt):
        if marks.begun():  # a ref here or on the remote may have moved already
            _say("envtrail: interrupted after it began writing; some changes may have "
                 "been made")
            _say("hint: `envtrail status` shows this clone's head; `envtrail sync` "
                 "finishes publishing")
        else:
            _say("envtrail: interrupted; nothing was changed")
        return 130
    except SystemExit:
        # click answers a broken pipe (EPIPE) with sys.exit(1) after wrapping
        # stdout; for `envtrail log | head` that is success, as in git.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _quiet_stdout()
            return 0
        raise
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush cannot fail too.
        _quiet_stdout()
        return 0
    except Exception as exc:
        if debug:
            raise
        # Only the type: an exception's text could quote a value.
        _say(f"envtrail: error: unexpected {type(exc).__name__}; "
             "rerun with ENVTRAIL_DEBUG=1 for details")
        return 1
    return rv if isinstance(rv, int) else 0
