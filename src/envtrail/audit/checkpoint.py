"""What this clone has verified of the store line, kept under ``.git/envtrail/`` (never in history).

Three small files:

- ``verified.json``: the checkpoint, the line head the last clean verification
  ended at, each environment file's blob id there, which environments a
  decryption key checked, and the time floor for the next write. With nothing
  new, a read is vouched for by comparing ids, without walking history.
- ``pin.json``: the genesis this clone pinned on first use, like ssh's
  known_hosts. Another genesis is never accepted silently.
- ``cache/<env>.yaml``: the verified bytes of each environment file, so the
  fast read works where no work tree holds them (a store on its own branch).
  Ciphertext only, the same bytes as the Git objects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from envtrail.errors import IntegrityError
from envtrail.gitstore.discover import state_dir
from envtrail.gitstore.refs import blob_id

if TYPE_CHECKING:
    from envtrail.format.envfile import EnvFile

_NAME = "verified.json"
_PIN = "pin.json"
_AHEAD = "ahead.json"
_EVENTS = "events.json"
_VERSION = 4  # 4: ``keys`` (an older checkpoint lacks them: the line is walked again)


@dataclass(frozen=True)
class Checkpoint:
    """A verified line head and what was checked up to it."""

    head: str
    envs: dict[str, str] = field(default_factory=dict)
    # Environments every change of which was checked with a key that opens them.
    keyed: frozenset[str] = frozenset()
    # Public keys that already re-checked the whole line: never again for them.
    attempted: frozenset[str] = frozenset()
    # Commits (trust roots) this line was checked to contain.
    roots: frozenset[str] = frozenset()
    floor: int = 0  # committer time (epoch seconds) the next commit may not go below
    # Line commits a repair acknowledged as findings, and those between: never read from.
    tainted: frozenset[str] = frozenset()
    # A finding a full ``verify`` made on the line: no read trusts what this checkpoint
    # vouches for until a whole walk passes that checked, with a key, every environment
    # the finding walk did (``refused_envs``: a keyless walk cannot see a lying
    # fingerprint), or repairs acknowledge every commit it found (``refused_commits``).
    refused: str | None = None
    refused_commits: frozenset[str] = frozenset()
    refused_envs: frozenset[str] = frozenset()
    # Every environment public key the line used up to ``head``: a new pair must be new.
    keys: frozenset[str] = frozenset()


def opens_unkeyed(cp: Checkpoint, key: str, names: Iterable[str],
                  read: Callable[[str], EnvFile | None], *, unreadable: bool) -> bool:
    """Whether ``key`` holds a seat in one of ``names`` that no key has checked yet (not
    in ``cp.keyed``): then the gate walks the whole line with it once, whichever
    environment is read (attack29 F1: a lie only another environment's key sees refuses
    the whole line). ``read(name)`` gives the environment file; one it cannot give (None
    or IntegrityError) answers ``unreadable``, each caller saying why."""
    for name in names:
        if name in cp.keyed:
            continue
        try:
            env = read(name)
        except IntegrityError:
            env = None
        if env is None:
            if unreadable:
                return True
        elif env.member_with_key(key) is not None:
            return True
    return False


def path(root: Path) -> Path:
    """Where the checkpoint of the store at ``root`` lives."""
    return state_dir(root) / _NAME


def load(root: Path) -> Checkpoint | None:
    """The checkpoint (an unreadable or older file counts as none)."""
    try:
        doc = json.loads(path(root).read_text(encoding="utf-8"))
        if doc.get("version") != _VERSION:
            return None
        return Checkpoint(
            str(doc["head"]), {str(k): str(v) for k, v in doc["envs"].items()},
            frozenset(map(str, doc["keyed"])), frozenset(map(str, doc["attempted"])),
            frozenset(map(str, doc["roots"])), int(doc["floor"]),
            frozenset(map(str, doc["tainted"])),
            str(doc["refused"]) if doc.get("refused") is not None else None,
            frozenset(map(str, doc.get("refused_commits", ()))),
            frozenset(map(str, doc.get("refused_envs", ()))),
            frozenset(map(str, doc["keys"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(root: Path, cp: Checkpoint, files: dict[str, bytes] | None = None) -> None:
    """Record a clean verification (atomically: a crash leaves the old file).

    ``files`` are the verified environment files by name, for the fast read.
    """
    if files:
        cache = state_dir(root) / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            _write(cache / f"{name}.yaml", data)
    _write(path(root), json.dumps({
        "version": _VERSION, "head": cp.head, "envs": cp.envs, "keyed": sorted(cp.keyed),
        "attempted": sorted(cp.attempted), "roots": sorted(cp.roots), "floor": cp.floor,
        "tainted": sorted(cp.tainted), "keys": sorted(cp.keys),
        **({"refused": cp.refused, "refused_commits": sorted(cp.refused_commits),
            "refused_envs": sorted(cp.refused_envs)} if cp.refused is not None else {}),
    }).encode())


def clear(root: Path) -> None:
    """Forget the checkpoint (the next read re-verifies the whole line)."""
    path(root).unlink(missing_ok=True)


def cached_file(root: Path, environment: str, blob: str) -> bytes | None:
    """The verified bytes of an environment file, as the last verification saw them
    (blob id ``blob``), or None when they are missing or are not those bytes: a cache
    file changed on disk vouches for nothing, and the gate writes it again."""
    try:
        data = (state_dir(root) / "cache" / f"{environment}.yaml").read_bytes()
    except OSError:
        return None
    return data if blob_id(data, blob) == blob else None


def keys_at(root: Path, commit: str | None) -> frozenset[str] | None:
    """The environment public keys the line used up to ``commit``, where the checkpoint
    stands there; None elsewhere (a walk from ``commit`` then reads them from the line)."""
    cp = load(root) if commit is not None else None
    return cp.keys if cp is not None and cp.head == commit else None


def load_tainted(root: Path) -> frozenset[str]:
    """The line states a repair acknowledged as findings, as this clone last verified them."""
    cp = load(root)
    return cp.tainted if cp is not None else frozenset()


def load_pin(root: Path) -> str | None:
    """The genesis this clone pinned, if any."""
    try:
        return str(json.loads((state_dir(root) / _PIN).read_text(encoding="utf-8"))["genesis"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_pin(root: Path, genesis: str) -> None:
    """Pin the genesis (first use, or a reviewed ``--accept-rewrite``)."""
    _write(state_dir(root) / _PIN, json.dumps({"genesis": genesis}).encode())


def load_ahead(root: Path) -> dict[str, int]:
    """Commit -> the time this clone first saw it, for commits dated ahead of that."""
    try:
        doc = json.loads((state_dir(root) / _AHEAD).read_text(encoding="utf-8"))
        return {str(k): int(v) for k, v in doc.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save_ahead(root: Path, seen: dict[str, int]) -> None:
    """Remember when commits dated ahead were first seen (they stay findings later)."""
    _write(state_dir(root) / _AHEAD, json.dumps(seen).encode())


def load_events(root: Path, store_head: str | None) -> str | None:
    """The events head ``verify`` found clean against exactly ``store_head``, if any."""
    try:
        doc = json.loads((state_dir(root) / _EVENTS).read_text(encoding="utf-8"))
        return str(doc["events"]) if doc["store"] == store_head else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_events(root: Path, store_head: str, events_head: str) -> None:
    """Remember that the events line up to ``events_head`` verified against ``store_head``
    (judged again whenever the store line has moved)."""
    _write(state_dir(root) / _EVENTS,
           json.dumps({"store": store_head, "events": events_head}).encode())


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def signers_path(root: Path) -> Path:
    """The verified allowed_signers that ``git verify-commit`` is pointed at."""
    return state_dir(root) / "allowed_signers"


def save_signers(root: Path, data: bytes) -> None:
    """Refresh the verified allowed_signers copy (only if it changed)."""
    target = signers_path(root)
    try:
        if target.read_bytes() == data:
            return
    except OSError:
        pass
    _write(target, data)
