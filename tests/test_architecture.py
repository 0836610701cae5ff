"""The rooms keep their one-way dependencies, and terminal code stays in cli/."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "envtrail"
BASE = {"envtrail", "envtrail.errors", "envtrail.model"}
# room -> envtrail modules it may import besides itself and BASE
ALLOWED = {
    "crypto": set(),
    "format": set(),
    "gitstore": set(),
    "audit": {"crypto", "format", "gitstore", "runtime"},
    "ops": {"crypto", "format", "gitstore", "audit", "runtime"},
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_rooms_import_only_what_they_may(room):
    for path in (SRC / room).rglob("*.py"):
        for name in imports(path):
            if not name.startswith("envtrail") or name in BASE:
                continue
            other = name.split(".")[1]
            assert other == room or other in ALLOWED[room], f"{path.name} imports {name}"


def test_third_party_libraries_stay_in_their_rooms():
    owners = {"pygit2": {"gitstore"}, "nacl": {"crypto"}, "yaml": {"format"},
              "dotenv": {"format"}, "typer": {"cli"}, "rich": {"cli"}, "re2": {"format"},
              "bcrypt": {"crypto"}, "cryptography": {"crypto"}}
    for path in SRC.rglob("*.py"):
        room = path.relative_to(SRC).parts[0]
        for name in imports(path):
            lib = name.split(".")[0]
            if lib in owners:
                assert room in owners[lib], f"{path.relative_to(SRC)} imports {name}"


def test_print_and_exit_only_in_cli():
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] in {"cli", "__main__.py"}:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else (
                    f"{fn.value.id}.{fn.attr}" if isinstance(fn, ast.Attribute)
                    and isinstance(fn.value, ast.Name) else "")
                assert name not in {"print", "sys.exit", "exit"}, f"{path.name}: {name}"


def test_modules_stay_small():
    for path in SRC.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path


# What a write never needs: PyYAML (envtrail's own settings files are read
# without it), the read-side result type, --at's time parsing, terminal
# rendering and the history walk (nothing new to check after its own gate).
NOT_FOR_SET = {"yaml", "rich", "pydantic", "re2", "envtrail.ops.result", "envtrail.ops.timespec",
               "envtrail.audit.line", "envtrail.audit.verify"}


def test_set_imports_only_what_a_write_needs(store, alice, cli):
    import os
    import subprocess
    import sys

    # A policy with a list and a duration; the write above leaves nothing new to check.
    assert cli("policy", "set", "--env", "production", "--writers", "admins,alice@example.com",
               "--review", "48h", "--reason", "r").code == 0
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(alice.path)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "envtrail", "set", "A",
                           "--env", "production", "--reason", "r"], cwd=store, env=env,
                          input="1", capture_output=True, text=True, check=True)
    assert "production: set A" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
    assert {"pygit2", "envtrail.ops.txn", "envtrail.format.policy"} <= imported
    assert not NOT_FOR_SET & imported, NOT_FOR_SET & imported
