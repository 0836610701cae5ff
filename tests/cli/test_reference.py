"""docs/cli.md is generated from the commands and matches the real --help, both ways."""

import re
from pathlib import Path

import pytest

from conftest import Cli
from envtrail.cli import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")


def test_cli_md_is_up_to_date():
    assert DOC.read_text() == reference.render(), "run: python -m envtrail.cli.reference > docs/cli.md"


def documented() -> dict[str, set[str]]:
    """Command path -> flags, as docs/cli.md lists them."""
    out, current = {}, None
    for line in DOC.read_text().splitlines():
        if line.startswith("## envtrail ") or line == "## Global options":
            current = line[len("## envtrail "):] if line.startswith("## envtrail ") else ""
            out[current] = set()
        elif current is not None and line.startswith("| `-"):
            out[current] |= set(FLAG.findall(line.split("`")[1]))
    return out


def help_flags(text: str) -> set[str]:
    """The flags of the option rows in typer's help (not flags mentioned in prose)."""
    flags = set()
    for line in text.splitlines():
        row = line.strip("│ ").lstrip("* ").strip()
        if not row.startswith("-"):
            continue
        for token in row.split():
            found = FLAG.findall(token)
            if not found:
                break
            flags |= set(found)
    return flags - {"--help", "-h"}


@pytest.mark.parametrize(("path", "flags"), sorted(documented().items()))
def test_every_documented_flag_is_in_help_and_back(tmp_path, path, flags):
    r = Cli(tmp_path)(*path.split(), "--help")
    assert r.code == 0, r.err
    assert help_flags(r.out) == flags


def test_every_command_is_documented(tmp_path):
    paths = {" ".join(p) for p, _ in reference.commands() if p}
    assert paths == set(documented()) - {""}
    for required in ("init", "set", "get", "log", "verify", "rollback", "access revoke", "sync",
                     "hook pre-commit", "merge-driver", "edit", "status", "identity new"):
        assert required in paths
