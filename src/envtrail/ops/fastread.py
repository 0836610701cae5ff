"""The gate's fast path: no pygit2, no history walk, when nothing is new.

When the store branch still points at the commit the last verification
ended at, the cached file still hashes to the blob that verification
recorded for the environment, every trust root asked for was already found
on the line, and the reader's key has nothing left to re-check, that file
is exactly the verified committed content and is decrypted as is. Anything
else returns None and the caller takes the gate (which verifies what is new
and refreshes the checkpoint).
"""

from __future__ import annotations

from pathlib import Path

from envtrail.audit import checkpoint
from envtrail.crypto.keys import Identity
from envtrail.format import envfile, layout
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.discover import journal_path
from envtrail.gitstore.refs import configured_store_ref, head_ref, ref_commit
from envtrail.model import Secret, check_env_name, check_var_name
from envtrail.ops.members import decrypt_values
from envtrail.ops.result import Values
from envtrail.ops.trust import in_ci, trust_roots
from envtrail.runtime import Runtime


def committed_env(rt: Runtime, root: Path, identity: Identity,
                  environment: str) -> tuple[str, EnvFile] | None:
    """(line head, the environment there) if the checkpoint vouches for both, else None."""
    cp = checkpoint.load(root)
    if cp is None or cp.refused is not None or environment not in cp.envs or \
            journal_path(root).exists():
        # Nothing verified yet, verify since found a problem below the checkpoint, or a
        # write was interrupted: the gate decides.
        return None
    roots = trust_roots(rt)
    if not roots <= cp.roots or (in_ci(rt) and not roots):
        return None
    checked_out = head_ref(root)
    ref = configured_store_ref(root) or checked_out
    if ref is None or ref == "HEAD" or ref_commit(root, ref) != cp.head:
        return None
    blob = cp.envs[environment]
    data = checkpoint.cached_file(root, environment, blob)
    if data is None:
        return None
    if ref == checked_out:
        # The work tree holds the store: a hand edit there must reach the gate,
        # which warns that reads show the committed values.
        try:
            on_disk = (root / layout.env_path(environment)).read_bytes()
        except OSError:
            return None
        if on_disk != data:
            return None
    env = envfile.parse(data, layout.env_path(environment))
    if env.environment != environment:
        return None  # the gate names the mismatch (a checkpoint only holds verified files)
    key = identity.public.openssh
    # Read from this clone's cache: a file missing, changed or unparseable there is one
    # the fast path cannot vouch for, so it cannot know the key holds no seat; the gate,
    # which reads the committed file and walks, decides (unreadable=True).
    if key not in cp.attempted and checkpoint.opens_unkeyed(
            cp, key, cp.envs, lambda name: _cached(root, name, cp.envs[name]),
            unreadable=True):
        return None  # this key has not re-checked the line yet
    return cp.head, env


def _cached(root: Path, environment: str, blob: str) -> EnvFile | None:
    data = checkpoint.cached_file(root, environment, blob)
    return None if data is None else envfile.parse(data)


def read(rt: Runtime, root: Path, identity: Identity, environment: str,
         names: list[str] | None) -> tuple[str, dict[str, Secret]] | None:
    """(commit, values) from the fast path, or None to take the gate."""
    check_env_name(environment)
    for name in names or []:
        check_var_name(name)
    found = committed_env(rt, root, identity, environment)
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
        fast = read(rt, root, identity, environment, names)
        if fast is not None:
            return Values(environment, fast[0], fast[1])
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.values import read_values

    return read_values(GitRepo(root), rt, identity, environment, names, at, verify)
