"""python-dotenv as an application uses it: a stream or a path, interpolation on or off."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

MODES = ("stream", "stream, interpolate", "path", "path, interpolate")


def read(text: str) -> dict[str, dict[str, str | None]]:
    """What ``dotenv_values`` gives for ``text`` in each mode (mode -> values)."""
    from dotenv import dotenv_values

    out = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        path.write_bytes(text.encode())
        for mode in MODES:
            interpolate = "interpolate" in mode
            if mode.startswith("path"):
                got = dotenv_values(path, interpolate=interpolate)
            else:
                got = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
            out[mode] = dict(got)
    return out
