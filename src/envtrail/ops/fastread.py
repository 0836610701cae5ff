"""The verified-read fast path: no pygit2, no history walk.

When HEAD is still the commit the last verification ended at, and the work
tree file still hashes to the blob that verification recorded for the
environment, that file is exactly the verified committed content, so it can
be decrypted as is. Anything else returns None and the caller takes the full
path (which verifies what is new and refreshes the checkpoint).
"""

from __future__ import annotations

from pathlib import Path

from envtrail.audit import checkpoint
from envtrail.crypto.keys import Identity
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.discover import journal_path
from envtrail.gitstore.refs import blob_id, head_commit, head_ref
from envtrail.model import Secret, check_env_name, check_var_name
from envtrail.ops.members import decrypt_values
from envtrail.ops.result import Values
from envtrail.runtime import Runtime


def committed_env(root: Path, environment: str) -> tuple[str, EnvFile] | None:
    """(HEAD, the environment as committed there) if both are vouched for without git."""
    ref = head_ref(root)
    cp = checkpoint.load(root, ref) if ref else None
    if cp is None or environment not in cp.envs:
        return None
    if journal_path(root).exists():
        return None  # a write was interrupted: the full path finishes it first
    head = head_commit(root)
    if head is None or head != cp.head:
        return None
    path = envfile.path_for(environment)
    try:
        data = (root / path).read_bytes()
    except OSError:
        return None
    if blob_id(data, cp.envs[environment]) != cp.envs[environment]:
        return None
    return head, envfile.parse(data, path)


def read(root: Path, identity: Identity, environment: str,
         names: list[str] | None) -> tuple[str, dict[str, Secret]] | None:
    """(commit, values) from the fast path, or None to take the full path."""
    check_env_name(environment)
    for name in names or []:
        check_var_name(name)
    found = committed_env(root, environment)
    if found is None:
        return None
    head, env = found
    return head, decrypt_values(env, identity, names)


def read_verified(rt: Runtime, root: Path, identity: Identity, environment: str,
                  names: list[str] | None = None, at: str | None = None,
                  verify: bool = True) -> Values:
    """Values as ``ops.values.read_values`` returns them, taking the fast path when it can.

    pygit2 is imported only when the fast path cannot vouch for the read.
    """
    if at is None and verify:
        fast = read(root, identity, environment, names)
        if fast is not None:
            return Values(environment, fast[0], fast[1])
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.values import read_values

    return read_values(GitRepo(root), rt, identity, environment, names, at, verify)
