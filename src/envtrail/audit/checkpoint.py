"""The last verified head of each branch, kept under ``.git/envtrail/`` (never in history).

For every branch it records the commit a clean verification ended at and the
blob id of each environment file there, so that a read with nothing new since
can be vouched for by comparing ids, without walking history. Branches are
kept apart: switching branches is not a history rewrite.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from envtrail.gitstore.discover import state_dir

_NAME = "verified.json"
_VERSION = 2


@dataclass(frozen=True)
class Checkpoint:
    """A verified head and its environment file blob ids."""

    head: str
    envs: dict[str, str] = field(default_factory=dict)


def path(root: Path) -> Path:
    """Where the checkpoints of the store at ``root`` live."""
    return state_dir(root) / _NAME


def load_all(root: Path) -> dict[str, Checkpoint]:
    """Every branch's checkpoint (an unreadable or older file counts as none)."""
    try:
        doc = json.loads(path(root).read_text(encoding="utf-8"))
        if doc.get("version") != _VERSION:
            return {}
        return {str(ref): Checkpoint(str(c["head"]), {str(k): str(v) for k, v in c["envs"].items()})
                for ref, c in doc["branches"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def load(root: Path, ref: str) -> Checkpoint | None:
    """The checkpoint of branch ``ref`` (``HEAD`` when detached), if any."""
    return load_all(root).get(ref)


def save(root: Path, ref: str, checkpoint: Checkpoint) -> None:
    """Record a clean verification of ``ref`` (atomically: a crash leaves the old file)."""
    branches = load_all(root)
    branches[ref] = checkpoint
    target = path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({
        "version": _VERSION,
        "branches": {r: {"head": c.head, "envs": c.envs} for r, c in sorted(branches.items())},
    }))
    os.replace(tmp, target)
