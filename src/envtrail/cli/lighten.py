"""Keep typer from importing pydantic for envtrail's plain parameters.

typer 0.29 validates every non-flag parameter value with a pydantic
TypeAdapter, even a plain ``str``, and importing pydantic costs ~50 ms: more
than the rest of ``envtrail get``. envtrail's parameters are only ``str``,
``list[str]``, ``int`` and ``bool``, which need no such machinery, so their
coercion is swapped for a direct one before the command runs.

This reaches into typer internals on purpose (pyproject pins the typer range
it was tested with). If they change, nothing breaks: any failure while
installing undoes everything installed so far, and any failure while
coercing hands the value to typer's own coercion. Only a user's bad value
(``--limit abc``) is reported as such.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from envtrail.cli.params import each_param

_SIMPLE = {"str", "list[str]", "int", "bool"}


class _Refused(ValueError):
    """The user's value is wrong (a BadParameter), not our coercion."""


def _coerce(kind: str, value: Any, low: int | None) -> Any:
    """The plain coercion of one value; _Refused for a value the user got wrong."""
    if kind == "list[str]":
        return [str(v) for v in value]
    if kind == "int":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise _Refused(f"{value!r} is not a whole number") from None
        if low is not None and number < low:
            raise _Refused(f"must be at least {low}")
        return number
    if kind == "bool":
        return bool(value)
    return str(value)


def lighten(command: Any) -> None:
    """Give every simple parameter of ``command`` and its subcommands a plain coercer.

    On any failure, ``command`` is left exactly as typer made it.
    """
    try:
        from dataclasses import dataclass

        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam, build_runtime_param
    except Exception:  # another typer: keep its behaviour
        return

    undo: list[Callable[[], None]] = []
    try:
        @dataclass(frozen=True)
        class Plain(RuntimeParam):  # type: ignore[misc, valid-type]
            descriptor: Any = None

            def _coerce_value(self, *args: Any, **kwargs: Any) -> Any:
                try:
                    value = kwargs["value"] if "value" in kwargs else args[0]
                    coerced = _coerce(_name(self.annotation), value,
                                      getattr(self.parameter_info, "min", None))
                except _Refused as exc:
                    raise BadParameter(str(exc), ctx=kwargs.get("ctx"),
                                       param=kwargs.get("param")) from None
                except Exception:
                    # Not the call we know: typer's own coercion decides.
                    return build_runtime_param(self.descriptor)._coerce_value(*args, **kwargs)
                return coerced

        def light(param: Any) -> None:
            desc = getattr(param, "type_descriptor", None)
            if desc is None or not hasattr(param, "_runtime_param"):
                return
            info = desc.parameter_info
            if _name(desc.annotation) in _SIMPLE and getattr(info, "parser", None) is None:
                before = param._runtime_param
                param._runtime_param = Plain(parameter_info=info, annotation=desc.annotation,
                                             descriptor=desc)
                undo.append(lambda: setattr(param, "_runtime_param", before))

        installing = True

        def apply(param: Any) -> None:
            if installing:
                light(param)  # a failure here undoes everything (below)
                return
            # --help options are made while a command runs: never fail it.
            with contextlib.suppress(Exception):
                light(param)

        each_param(command, apply, undo)
        installing = False
    except Exception:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) if isinstance(annotation, type) else str(annotation)
