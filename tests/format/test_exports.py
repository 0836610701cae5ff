"""Every export format against its real consumers: read back exactly, or refused by name.

node's dotenv has its own file (test_node_dotenv.py); the consumers are in tests/consumers/.
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from consumers import docker, python_dotenv, shells
from consumers.cases import HOSTILE, render_or_refuse, stores
from envtrail.errors import UsageError
from envtrail.format import exports


def sourced(text, names):
    """Each shell's reading of ``text`` sourced with `set -a; . FILE`; asserts nothing ran."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exported.env"
        path.write_bytes(text.encode())
        for shell in shells.SHELLS:
            out[shell] = shells.source(shell, path, names)
            assert sorted(p.name for p in Path(folder).iterdir()) == ["exported.env"], shell
    return out


@settings(max_examples=150, deadline=None)
@given(stores)
def test_dotenv_is_exact_for_python_dotenv_and_the_shells_or_refused(vals):
    text, refused = render_or_refuse(vals, "dotenv")
    carried = {k: v for k, v in vals.items() if k not in refused}
    for mode, got in python_dotenv.read(text).items():
        assert got == carried, mode
    # In a shell a CR is the two characters \r (its double quotes know no escapes):
    # never a command, and every other value exactly.
    expected = {k: v.replace("\r", "\\r") for k, v in carried.items()}
    for shell, got in sourced(text, sorted(carried)).items():
        assert got == expected, shell


@settings(max_examples=100, deadline=None)
@given(stores)
def test_shell_format_is_exact_in_every_shell(vals):
    text, refused = render_or_refuse(vals, "shell")
    assert not refused
    for shell, got in sourced(text, sorted(vals)).items():
        assert got == vals, shell


@settings(deadline=None)
@given(stores)
def test_json_carries_every_value(vals):
    text, refused = render_or_refuse(vals, "json")
    assert not refused
    assert json.loads(text) == vals


@settings(deadline=None)
@given(stores)
def test_docker_is_exact_under_docker_rules_or_refused(vals):
    text, refused = render_or_refuse(vals, "docker")
    carried = {k: v for k, v in vals.items() if k not in refused}
    assert docker.read_env_file(text.encode()) == [f"{k}={carried[k]}" for k in sorted(carried)]
    for k in refused:
        assert "\n" in vals[k] or vals[k].endswith("\r")


def test_hostile_values_run_nothing_when_sourced(tmp_path):
    for fmt in ("dotenv", "shell"):
        text, refused = render_or_refuse(HOSTILE, fmt)
        path = tmp_path / f"{fmt}.env"
        path.write_text(text)
        carried = sorted(k for k in HOSTILE if k not in refused)
        assert carried, fmt
        for shell in shells.SHELLS:
            got = shells.source(shell, path, carried)
            assert not (tmp_path / "pwned").exists(), (fmt, shell)
            assert got == {k: HOSTILE[k] for k in carried}, (fmt, shell)
    assert {"bash", "sh"} <= set(shells.SHELLS)


def test_a_naive_export_would_have_run_the_command(tmp_path):
    # The test above can fail: python-dotenv's escape for a quote is not a shell's.
    (tmp_path / "naive.env").write_text("T_X='\\'; touch pwned; #'\n")
    shells.source("sh", tmp_path / "naive.env", ["T_X"])
    assert (tmp_path / "pwned").exists()


def test_refusal_names_the_variable_and_the_formats_not_the_value():
    canary = "CANARY-5e1f-\\\\-'\"-${HOME}"
    with pytest.raises(UsageError) as info:
        exports.render({"T_OK": "fine", "T_SECRET": canary}, "dotenv")
    assert "T_SECRET" in info.value.message and "T_OK" not in info.value.message
    assert "CANARY" not in info.value.message + info.value.hint
    assert "--format json" in info.value.hint and "--format shell" in info.value.hint
    assert "--format docker" in info.value.hint  # single line: docker carries it
    with pytest.raises(UsageError) as info:
        exports.render({"T_KEY": "-----BEGIN-----\nCANARY\n"}, "docker")
    assert "T_KEY" in info.value.message and "--format docker" not in info.value.hint


@pytest.mark.parametrize(("count", "tail"), [(5, ""), (6, " and 1 more"), (7, " and 2 more")])
def test_a_refusal_names_the_first_five_variables_and_counts_the_rest(count, tail):
    vals = {f"T_{i}": "two\nlines" for i in range(count)}
    with pytest.raises(UsageError) as info:
        exports.render(vals, "docker")
    shown = ", ".join(f"T_{i}" for i in range(5))
    assert info.value.message == f"the docker format cannot carry {shown}{tail} exactly"


@pytest.mark.parametrize(("value", "carried_by"), [
    ("plain", {"dotenv", "json", "shell", "docker"}),
    ("it's", {"dotenv", "json", "shell", "docker"}),
    ("-----BEGIN KEY-----\nabc\n-----END KEY-----\n", {"dotenv", "json", "shell"}),
    ("windows\r\nline\r\n", {"dotenv", "json", "shell"}),
    ("C:\\temp\\", {"json", "shell", "docker"}),
    ("\\\\server\\share", {"json", "shell", "docker"}),
    ("${HOME}", {"json", "shell", "docker"}),
    ("$HOME", {"dotenv", "json", "shell", "docker"}),
    ("it's \"both\"", {"json", "shell", "docker"}),
    ("ends in cr\r", {"dotenv", "json", "shell"}),
    ("nul\x00inside", {"json"}),  # shells drop it; docker cannot pass it (attack 12, F3)
])
def test_which_formats_carry_which_values(value, carried_by):
    """The rows of the table in docs/formats.md."""
    assert {f for f in exports.FORMATS if exports.carries(f, "K", value)} == carried_by


def test_docker_line_limit_is_docker_s():
    fits = "x" * (exports.DOCKER_MAX_LINE - 2)
    assert exports.carries("docker", "K", fits)
    assert not exports.carries("docker", "K", fits + "x")
    assert docker.read_env_file(f"K={fits}\n".encode()) == [f"K={fits}"]
    with pytest.raises(docker.EnvFileError):
        docker.read_env_file(f"K={fits}x\n".encode())


def test_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown format"):
        exports.render({}, "yaml")


# -- docker's own client ----------------------------------------------------------


def test_docker_model_matches_the_recorded_parses():
    recorded = json.loads(docker.RECORDED.read_text())
    assert len(recorded) == len(docker.CASES)
    for data, entry in zip(docker.CASES, recorded, strict=True):
        try:
            model = docker.summary(docker.read_env_file(data))
        except docker.EnvFileError:
            model = "error"
        assert model == entry["read"], entry["file"]


@pytest.mark.skipif(not shutil.which("docker"), reason="docker is not installed; "
                    "test_docker_model_matches_the_recorded_parses holds the recorded rules")
def test_real_docker_reads_what_was_recorded_and_what_envtrail_writes():
    recorded = json.loads(docker.RECORDED.read_text())
    for data, entry in zip(docker.CASES, recorded, strict=True):
        assert docker.summary(docker.docker_reads(data)) == entry["read"], entry["file"]
    vals = {k: v for k, v in HOSTILE.items() if "\n" not in v}
    vals["T_UNICODE"] = "päss—wörd 🔑 \u2028 \u0085 ' \" \\ \r mid-cr"
    vals["T_SPACES"] = "  lead and trail  "
    vals["T_EMPTY"] = ""
    text = exports.render(vals, "docker")
    assert docker.docker_reads(text.encode()) == [f"{k}={vals[k]}" for k in sorted(vals)]


def test_jq_reads_the_json_export():
    if not shutil.which("jq"):
        pytest.skip("jq is not installed")
    vals = {**HOSTILE, "T_UNI": "päss 🔑 \u2028\r\n\t\\"}
    out = subprocess.run(["jq", "-j", 'to_entries[] | .key, "\\u0000", .value, "\\u0000"'],
                         input=exports.render(vals, "json").encode(), capture_output=True,
                         check=True).stdout.decode().split("\0")[:-1]
    assert dict(zip(out[::2], out[1::2], strict=True)) == vals
