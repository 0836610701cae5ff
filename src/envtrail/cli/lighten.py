"""Keep typer from importing pydantic for envtrail's plain parameters.

typer 0.29 validates every non-flag parameter value with a pydantic
TypeAdapter, even a plain ``str``, and importing pydantic costs ~50 ms: more
than the rest of ``envtrail get``. envtrail's parameters are only ``str``,
``list[str]``, ``int`` and ``bool``, which need no such machinery, so their
coercion is swapped for a direct one before the command runs. This reaches
into typer internals on purpose; if they change, nothing breaks: parameters
this cannot handle keep typer's own coercion.
"""

from __future__ import annotations

from typing import Any

_SIMPLE = {"str", "list[str]", "int", "bool"}


def lighten(command: Any) -> None:
    """Give every simple parameter of ``command`` and its subcommands a plain coercer."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # another typer: keep its behaviour
        return

    class Plain(RuntimeParam):  # type: ignore[misc, valid-type]
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = _name(self.annotation)
            if kind == "list[str]":
                return [str(v) for v in value]
            if kind == "int":
                try:
                    number = int(value)
                except (TypeError, ValueError):
                    raise BadParameter(f"{value!r} is not a whole number", ctx=ctx,
                                       param=param) from None
                low = getattr(self.parameter_info, "min", None)
                if low is not None and number < low:
                    raise BadParameter(f"must be at least {low}", ctx=ctx, param=param)
                return number
            if kind == "bool":
                return bool(value)
            return str(value)

    def light(param: Any) -> Any:
        desc = getattr(param, "type_descriptor", None)
        if desc is not None and hasattr(param, "_runtime_param"):
            info = desc.parameter_info
            if _name(desc.annotation) in _SIMPLE and getattr(info, "parser", None) is None:
                param._runtime_param = Plain(parameter_info=info, annotation=desc.annotation)
        return param

    def visit(cmd: Any) -> None:
        for param in getattr(cmd, "params", []):
            light(param)
        # --help is made per command on first use; lighten it as it is made.
        make_help = getattr(cmd, "get_help_option", None)
        if make_help is not None:
            cmd.get_help_option = lambda ctx, make=make_help: make(ctx) and light(make(ctx))
        for sub in getattr(cmd, "commands", {}).values():
            visit(sub)

    visit(command)


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) if isinstance(annotation, type) else str(annotation)
