"""POSIX shells sourcing an exported file, as `set -a; . ./exported.env` does."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SHELLS = tuple(s for s in ("sh", "bash", "dash") if shutil.which(s))


def source(shell: str, path: Path, names: list[str]) -> dict[str, str]:
    """The variables ``names`` after ``shell`` sources ``path`` in its own folder.

    The shell runs in the file's folder with the usual PATH, so a command
    hidden in a value would really run: it would change a value or leave a
    file behind, which the callers check.
    """
    script = 'set -a; . "$1"; printf "%s\\0"' + "".join(f' "${{{n}-<unset>}}"' for n in names)
    proc = subprocess.run([shutil.which(shell), "-c", script, shell, str(path)],
                          cwd=path.parent, capture_output=True, check=False,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert proc.returncode == 0, (shell, proc.stderr)
    parts = proc.stdout.decode().split("\0")[:-1] if names else []
    return dict(zip(names, parts, strict=True))
