"""node's dotenv, run for real: one ``node`` process answers every parse of a session."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent / "node"


def install() -> None:
    """``npm ci`` the pinned releases into ``node/node_modules`` unless they are there."""
    if (HERE / "node_modules" / "dotenv18" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm, "node is installed but npm is not: install npm to run the node's dotenv tests"
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"npm ci in {HERE} failed: {proc.stderr[-2000:]}"


class NodeDotenv:
    """A running ``node parse.js``; :meth:`parse` returns release -> parsed values."""

    def __init__(self) -> None:
        install()
        self.proc = subprocess.Popen([shutil.which("node"), str(HERE / "parse.js")], cwd=HERE,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     encoding="utf-8")

    def parse(self, text: str) -> dict[str, dict[str, str]]:
        self.proc.stdin.write(json.dumps(text) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "node's dotenv harness stopped"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
