"""Walking every parameter of a typer command tree, --help included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def each_param(command: Any, apply: Callable[[Any], object],
               undo: list[Callable[[], None]] | None = None) -> None:
    """Call ``apply`` on every parameter of ``command`` and its subcommands.

    typer makes the --help option per command on first use, so ``apply`` is
    hooked in where it is made. ``undo`` (if given) collects how to unhook it.
    """
    for param in getattr(command, "params", []):
        apply(param)
    make_help = getattr(command, "get_help_option", None)
    if make_help is not None:
        def get_help_option(ctx: Any, make: Any = make_help) -> Any:
            option = make(ctx)
            if option is not None:
                apply(option)
            return option

        command.get_help_option = get_help_option
        if undo is not None:
            undo.append(lambda: vars(command).pop("get_help_option", None))
    for sub in (getattr(command, "commands", None) or {}).values():
        each_param(sub, apply, undo)
