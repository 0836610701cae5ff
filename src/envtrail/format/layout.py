"""Where things live in a store's tree: the one place that spells these paths.

The tree of every store-line commit holds ``.envtrail/`` (settings, signers,
policy), ``envs/`` (one file per environment) and ``.gitattributes``.
"""

from __future__ import annotations

STORE_DIR = ".envtrail"
CONFIG = f"{STORE_DIR}/config.yaml"
SIGNERS = f"{STORE_DIR}/allowed_signers"
POLICY = f"{STORE_DIR}/policy.yaml"
ENVS = "envs"
ATTRIBUTES = ".gitattributes"
ATTRIBUTES_LINE = f"{ENVS}/*.yaml merge=envtrail"
# Every path a store commit may change; a change anywhere else is not envtrail's.
STORE_PATHS = (ENVS, STORE_DIR, ATTRIBUTES)
ADMIN_FILES = (SIGNERS, POLICY, CONFIG)
_SUFFIX = ".yaml"


def env_path(environment: str) -> str:
    """Repository path of an environment's file."""
    return f"{ENVS}/{environment}{_SUFFIX}"


def env_of(path: str) -> str | None:
    """The environment a path is the file of (``envs/<name>.yaml``), or None."""
    prefix = ENVS + "/"
    if path.startswith(prefix) and path.endswith(_SUFFIX) and "/" not in path[len(prefix):]:
        return path[len(prefix):-len(_SUFFIX)]
    return None


def is_store_path(path: str) -> bool:
    """Whether a path belongs to the store (anything under ``envs/`` or ``.envtrail/``)."""
    return path.startswith((ENVS + "/", STORE_DIR + "/")) or path in (ENVS, STORE_DIR)
