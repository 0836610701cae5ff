"""Creating a store and its environments; configuring a clone."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from envtrail.audit.record import Record
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import EnvKeys, b64
from envtrail.errors import AccessDenied, ConflictError, UsageError
from envtrail.format import config, envfile, policy, signers
from envtrail.format.envfile import EnvFile, Member
from envtrail.gitstore.discover import find_git_root
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_principal
from envtrail.ops.rules import require_admin
from envtrail.ops.store import (
    ATTRIBUTES,
    ATTRIBUTES_LINE,
    CONFIG,
    POLICY,
    SIGNERS,
    Snapshot,
    whoami,
)
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did."""

    root: Path
    created: bool  # False: an existing store was only configured
    commit: str | None
    config_changed: tuple[str, ...]


def new_env_file(name: str, principal: str, identity: Identity) -> EnvFile:
    """A fresh environment whose only member is ``principal``."""
    keys = EnvKeys.generate()
    member = Member(principal, identity.public.openssh, keys.seal_to(identity.public))
    return EnvFile(name, b64(keys.public), {principal: member}, {})


def configure_clone(git: GitRepo) -> tuple[str, ...]:
    """Set the repo-local git config envtrail relies on; return the keys that changed."""
    wanted = {
        "gpg.format": "ssh",
        "gpg.ssh.allowedSignersFile": str(git.root / SIGNERS),
        "merge.envtrail.name": "envtrail: three-way merge per variable",
        # The interpreter envtrail runs under now, so the driver works from a
        # virtualenv that is not on PATH; `envtrail init` again re-points it.
        "merge.envtrail.driver": f"{shlex.quote(sys.executable)} -m envtrail merge-driver "
                                 "%O %A %B %P",
    }
    return tuple(k for k, v in wanted.items() if git.config_set_local(k, v))


def wanted_config_missing(git: GitRepo) -> list[str]:
    """Keys of the clone config that are absent or different (for ``status``)."""
    return [k for k in ("gpg.format", "gpg.ssh.allowedSignersFile", "merge.envtrail.driver")
            if git.config_get(k) is None]


def init(rt: Runtime, identity: Identity | None, envs: list[str],
         repo: Path | None = None) -> InitResult:
    """Make the Git repo at or above the working folder a store, or configure a clone."""
    for name in envs:
        check_env_name(name)
    start = (rt.cwd / repo).resolve() if repo else rt.cwd
    root = find_git_root(start)
    git = GitRepo(root) if root else None
    if git is not None and Snapshot(git, git.head()).has_store():
        changed = configure_clone(git)
        return InitResult(git.root, False, None, changed)
    # Everything that can refuse is checked before anything is created.
    if identity is None:
        raise AccessDenied("creating a store needs an identity (you become its first admin)",
                           hint="create one with `envtrail identity new --principal you@example.com`")
    principal = check_principal(identity.comment.strip()) if identity.comment.strip() else None
    if principal is None:
        raise UsageError("your identity has no principal in its comment",
                         hint="make one with `envtrail identity new --principal you@example.com`")
    git = git or GitRepo.init(start)

    def build(snap: Snapshot) -> Plan:
        if snap.has_store():
            raise ConflictError("another process initialised this store meanwhile")
        attrs = snap.read(ATTRIBUTES) or b""
        if ATTRIBUTES_LINE.encode() not in attrs.splitlines():
            attrs = attrs + (b"" if not attrs or attrs.endswith(b"\n") else b"\n")
            attrs += ATTRIBUTES_LINE.encode() + b"\n"
        me = signers.Signer(principal, identity.public.openssh, admin=True)
        changes: dict[str, bytes | None] = {
            CONFIG: config.render(),
            SIGNERS: signers.render([me]),
            POLICY: policy.render(policy.Policy()),
            ATTRIBUTES: attrs,
        }
        for name in sorted(set(envs)):
            changes[envfile.path_for(name)] = envfile.render(new_env_file(name, principal, identity))
        rec = Record("init", principal, "create envtrail store", tuple(sorted(set(envs))),
                     context=context_for(rt))
        return Plan(changes, rec)

    written = transact(git, rt, identity, build)
    changed = configure_clone(git)
    return InitResult(git.root, True, written.commit, changed)


def add_env(git: GitRepo, rt: Runtime, identity: Identity, name: str, reason: str) -> Written:
    """Create environment ``name`` with the caller (an admin) as its only member."""
    check_env_name(name)

    def build(snap: Snapshot) -> Plan:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "add an environment")
        if name in snap.environments():
            raise UsageError(f"environment {name!r} already exists")
        data = envfile.render(new_env_file(name, acting.principal, identity))
        rec = Record("init", acting.principal, reason or f"add environment {name}", (name,),
                     context=context_for(rt))
        return Plan({envfile.path_for(name): data}, rec)

    return transact(git, rt, identity, build)
