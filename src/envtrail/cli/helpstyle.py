"""--help as typer has long drawn it: no type labels on flags or arguments.

typer 0.29 labels every parameter with its Python type (``--dry-run <bool>``,
``KEY <str>``) and wraps required arguments in braces in the usage line
(``{KEY}``). For a command line those are noise; this restores the familiar
form: ``--dry-run``, ``KEY``, ``[COMMIT]``, ``KEY...``.
"""

from __future__ import annotations

from typing import Any

from envtrail.cli.params import each_param


def conventional(command: Any) -> None:
    """Restyle the help of ``command`` and its subcommands, in place."""
    each_param(command, _restyle)


def _restyle(param: Any) -> None:
    if getattr(param, "param_type_name", None) == "argument":
        param.display_type_rich = lambda ctx: None
        param._usage_display_name = lambda p=param: _usage(p)
    elif getattr(param, "is_flag", False):
        param.display_type_rich = lambda ctx: None


def _usage(param: Any) -> str:
    name = param.metavar or param.name.upper()
    if not param.required and not name.startswith("["):
        name = f"[{name}]"
    if param.nargs != 1 and "..." not in name and " [" not in name:
        name += "..."
    return name
