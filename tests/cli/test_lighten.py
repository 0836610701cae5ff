"""cli/lighten.py reaches into typer internals; whatever typer does, commands keep working."""

from abc import ABC

import pytest

from envtrail.cli import lighten as lighten_mod


def plain_params(argv):
    """Names of parameters lighten gave a plain coercer, for the command ``argv`` runs."""
    import typer.main

    from envtrail.cli.app import build

    command = typer.main.get_command(build(argv))
    lighten_mod.lighten(command)
    found = set()

    def visit(cmd):
        for p in getattr(cmd, "params", []):
            if type(getattr(p, "_runtime_param", None)).__name__ == "Plain":
                found.add(f"{cmd.name}:{p.name}")
        for sub in getattr(cmd, "commands", {}).values():
            visit(sub)

    visit(command)
    return found


def exercise(cli):
    """set, get, log with a bad number, --help: the outcomes a user sees."""
    assert cli("set", "A", "--env", "production", "--reason", "r", input="value 1").code == 0
    got = cli("get", "A", "--env", "production")
    assert (got.code, got.out) == (0, "value 1")
    bad = cli("log", "-n", "abc")
    assert bad.code == 2 and "Traceback" not in bad.err
    helped = cli("get", "--help")
    assert helped.code == 0 and "--env" in helped.out


def test_lighten_is_in_effect_with_the_pinned_typer(cli):
    assert "get:key" in plain_params(["get", "A"])
    exercise(cli)


def test_a_typer_whose_runtime_param_changed_shape_keeps_its_own_coercion(cli, monkeypatch):
    import typer._coercion

    class Changed(ABC):  # noqa: B024 - stands for a differently built typer class
        def __init__(self, descriptor):
            self.descriptor = descriptor

    monkeypatch.setattr(typer._coercion, "RuntimeParam", Changed)
    assert plain_params(["get", "A"]) == set()  # nothing half-installed
    exercise(cli)


def test_a_coercion_failure_falls_back_to_typer(cli, monkeypatch):
    def broken(*args):
        raise TypeError("typer called us in a way we do not know")

    monkeypatch.setattr(lighten_mod, "_coerce", broken)
    assert "get:key" in plain_params(["get", "A"])  # installed, but each call falls back
    exercise(cli)


def test_a_typer_without_the_internals_is_left_alone(cli, monkeypatch):
    import typer._coercion

    monkeypatch.delattr(typer._coercion, "build_runtime_param")  # renamed in some other typer
    assert plain_params(["get", "A"]) == set()
    exercise(cli)


@pytest.mark.parametrize(("value", "message"), [("abc", "is not a whole number"),
                                                ("-1", "at least 0")])
def test_plain_int_coercion_reports_the_users_mistake(value, message):
    with pytest.raises(lighten_mod._Refused, match=message):
        lighten_mod._coerce("int", value, 0)
    assert lighten_mod._coerce("int", "7", 0) == 7
    assert lighten_mod._coerce("list[str]", ("a", "b"), None) == ["a", "b"]


def shape(command):
    """What a user can pass a command: each parameter's name, flags, kind and default."""
    return [(p.name, tuple(p.opts), tuple(p.secondary_opts), p.param_type_name,
             repr(p.default), p.required, p.multiple) for p in command.params]


@pytest.mark.parametrize("word", ["get", "export", "run", "set", "hook", "log", "show",
                                  "diff", "blame", "verify"])
def test_a_hot_command_built_alone_is_the_command_of_the_whole_app(word):
    # A hot command's run builds only its own module's command (app._HOT): it must
    # take exactly the options the full application (help, docs/cli.md) shows.
    import typer.main

    from envtrail.cli import app

    assert word in app._HOT
    alone = typer.main.get_command(app.build([word, "X"]))
    whole = typer.main.get_command(app.build())
    assert set(alone.commands) == {word}
    mine, full = alone.commands[word], whole.commands[word]
    assert shape(mine) == shape(full) and shape(alone) == shape(whole)
    assert getattr(mine, "commands", {}).keys() == getattr(full, "commands", {}).keys()
