"""The last verified head, kept under ``.git/envtrail/`` (never in history).

It records the commit a clean verification ended at and the blob id of each
environment file there, so that a read with nothing new since can be vouched
for by comparing ids, without walking history.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from envtrail.gitstore.discover import state_dir

_NAME = "verified.json"


@dataclass(frozen=True)
class Checkpoint:
    """A verified head and its environment file blob ids."""

    head: str
    envs: dict[str, str] = field(default_factory=dict)


def path(root: Path) -> Path:
    """Where the checkpoint of the store at ``root`` lives."""
    return state_dir(root) / _NAME


def load(root: Path) -> Checkpoint | None:
    """The checkpoint, or None if there is none (or it is unreadable)."""
    try:
        doc = json.loads(path(root).read_text(encoding="utf-8"))
        return Checkpoint(str(doc["head"]), {str(k): str(v) for k, v in doc["envs"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(root: Path, checkpoint: Checkpoint) -> None:
    """Record a clean verification (atomically: a crash leaves the old one)."""
    target = path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"head": checkpoint.head, "envs": checkpoint.envs}))
    os.replace(tmp, target)
