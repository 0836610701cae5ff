"""Creating a store and its environments; configuring a clone."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from envtrail.audit import checkpoint
from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import EnvKeys, b64
from envtrail.errors import AccessDenied, ConflictError, NotFoundError, UsageError
from envtrail.format import config, envfile, policy, signers
from envtrail.format.envfile import EnvFile, Member
from envtrail.format.layout import ATTRIBUTES, ATTRIBUTES_LINE, CONFIG, POLICY, SIGNERS
from envtrail.gitstore.discover import find_git_root
from envtrail.gitstore.refs import configured_store_ref
from envtrail.gitstore.repo import STORE_BRANCH_KEY, GitRepo
from envtrail.model import check_env_name, check_new_principal
from envtrail.ops.gate import open_line
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import authorize_write, require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime

ORPHAN_BRANCH = "refs/heads/envtrail"


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did."""

    root: Path
    created: bool  # False: an existing store was only configured
    commit: str | None
    config_changed: tuple[str, ...]
    branch: str = ""
    notes: tuple[str, ...] = ()
    made_repo: bool = False  # --create made a new Git repository for the store


def new_env_file(name: str, principal: str, identity: Identity) -> EnvFile:
    """A fresh environment whose only member is ``principal``."""
    keys = EnvKeys.generate()
    member = Member(principal, identity.public.openssh, keys.seal_to(identity.public))
    return EnvFile(name, b64(keys.public), {principal: member}, {})


def configure_clone(git: GitRepo, branch: str) -> tuple[str, ...]:
    """Set the repo-local git config envtrail relies on; return the keys that changed."""
    wanted = {
        STORE_BRANCH_KEY: branch,
        "gpg.format": "ssh",
        # The verified copy the gate keeps, so `git verify-commit` trusts what
        # envtrail verified, whichever branch is checked out.
        "gpg.ssh.allowedSignersFile": str(checkpoint.signers_path(git.root)),
        "merge.envtrail.name": "envtrail: refuses merges of store files (use envtrail sync)",
        # The interpreter envtrail runs under now, so the driver works from a
        # virtualenv that is not on PATH; `envtrail init` again re-points it.
        "merge.envtrail.driver": f"{shlex.quote(sys.executable)} -m envtrail merge-driver "
                                 "%O %A %B %P",
    }
    return tuple(k for k, v in wanted.items() if git.config_set_local(k, v))


def wanted_config_missing(git: GitRepo) -> list[str]:
    """Keys of the clone config that are absent or different (for ``status``)."""
    return [k for k in (STORE_BRANCH_KEY, "gpg.format", "gpg.ssh.allowedSignersFile",
                        "merge.envtrail.driver")
            if (configured_store_ref(git.root) if k == STORE_BRANCH_KEY else git.config_get(k))
            is None]


def find_store_branch(git: GitRepo) -> str | None:
    """The branch that holds an existing store in this clone, or None.

    The checked-out branch if it holds one (a dedicated store repository),
    else ``envtrail`` (a store beside application code), made from the
    remote's branch of that name in a fresh clone.
    """
    configured = configured_store_ref(git.root)  # the clone's own config, as every reader
    if configured and git.ref_target(configured) is not None \
            and Snapshot(git, git.ref_target(configured)).has_store():
        return configured
    head = git.head()
    if head is not None and Snapshot(git, head).has_store() and not git.head_detached():
        if git.branch() != ORPHAN_BRANCH and _envtrail_branch_offered(git):
            # Whoever may push to a code branch could plant a store file there (or an
            # `envtrail` branch in a store repository): envtrail will not guess.
            raise UsageError("both the checked-out branch and an `envtrail` branch hold a "
                             "store; envtrail will not guess which is yours",
                             hint="name it with `git config envtrail.branch refs/heads/BRANCH` "
                                  "(refs/heads/envtrail beside application code), then run "
                                  "`envtrail init` again")
        return git.branch()
    local = git.ref_target(ORPHAN_BRANCH) or _adopt_remote_store(git)
    if local is not None and Snapshot(git, local).has_store():
        return ORPHAN_BRANCH
    return None


def _envtrail_branch_offered(git: GitRepo) -> bool:
    """Whether a local ``envtrail`` branch, or any remote's, holds a store."""
    candidates = [git.ref_target(ORPHAN_BRANCH), *(
        git.ref_target(f"refs/remotes/{remote}/envtrail") for remote in git.remote_names())]
    return any(c is not None and Snapshot(git, c).has_store() for c in candidates)


def _default_remote(git: GitRepo) -> str:
    # The remote the checked-out branch tracks (what `git clone` set up), else origin,
    # which is also where `sync` goes for a branch without an upstream.
    if not git.head_unborn() and not git.head_detached():
        tracked = git.config_get(f"branch.{git.branch().removeprefix('refs/heads/')}.remote")
        if tracked:
            return tracked
    return "origin"


def _adopt_remote_store(git: GitRepo) -> str | None:
    """In a fresh clone, make the local ``envtrail`` branch from the default remote's.

    Only ``refs/remotes/<remote>/envtrail`` of the clone's default remote counts:
    anyone who may create branches there could push ``a/envtrail`` or add a
    branch of that name to a second remote, and a store taken from it would be
    pinned, served and written to as if it were the real one.
    """
    offered = []
    for remote in git.remote_names():
        target = git.ref_target(f"refs/remotes/{remote}/envtrail")
        if target is not None and Snapshot(git, target).has_store():
            offered.append((remote, target))
    if not offered:
        return None
    default = _default_remote(git)
    if [remote for remote, _ in offered] != [default]:
        names = " and ".join(f"{remote}/envtrail" for remote, _ in offered)
        why = "hold" if len(offered) > 1 else "holds"
        raise UsageError(f"{names} {why} a store, and this clone's default remote is {default}: "
                         "envtrail will not guess which store is yours",
                         hint="make the right one local with `git branch envtrail REMOTE/envtrail` "
                              "(or name a branch with `git config envtrail.branch "
                              "refs/heads/BRANCH`), then run `envtrail init` again")
    remote, target = offered[0]
    git.set_ref(ORPHAN_BRANCH, target)
    # sync then fetches and pushes the remote the store came from.
    git.config_set_local("branch.envtrail.remote", remote)
    git.config_set_local("branch.envtrail.merge", ORPHAN_BRANCH)
    return target


def init(rt: Runtime, identity: Identity | None, envs: list[str],
         repo: Path | None = None, create: bool = False) -> InitResult:
    """Make the Git repo at or above the working folder a store, or configure a clone.

    Outside any Git repository this refuses unless ``create``: a store made by
    accident in the wrong folder (say, the home folder) is worse than a hint.
    """
    for name in envs:
        check_env_name(name)
    start = (rt.cwd / repo).resolve() if repo else rt.cwd
    root = find_git_root(start)
    git = GitRepo(root) if root else None
    existing = find_store_branch(git) if git is not None else None
    if git is not None and existing is not None:
        changed = configure_clone(git, existing)
        line = open_line(git, rt, identity)  # verifies, pins on first use, copies the signers
        return InitResult(git.root, False, None, changed, existing, line.warnings)
    # Everything that can refuse is checked before anything is created.
    if identity is None:
        raise AccessDenied("creating a store needs an identity (you become its first admin)",
                           hint="create one with `envtrail identity new --principal you@example.com`")
    principal = check_new_principal(identity.comment.strip()) if identity.comment.strip() else None
    if principal is None:
        raise UsageError("your identity has no principal in its comment",
                         hint="make one with `envtrail identity new --principal you@example.com`")
    if git is None and not create:
        raise NotFoundError(f"{start} is not in a Git repository",
                            hint="run `git init` first, or `envtrail init --create` to make one here")
    made = git is None
    git = git or GitRepo.init(start)
    # A repository with history keeps its code branches: the store gets a line of its own.
    branch = git.branch() if git.head() is None else ORPHAN_BRANCH
    if git.ref_target(branch) is not None:
        raise ConflictError(f"{branch} already exists and holds no envtrail store",
                            hint="rename that branch, then run `envtrail init` again")
    git.config_set_local(STORE_BRANCH_KEY, branch)

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
    changed = configure_clone(git, branch)
    open_line(git, rt, identity)  # pins the genesis and writes the verified signers copy
    return InitResult(git.root, True, written.commit, changed, branch, made_repo=made)


def add_env(git: GitRepo, rt: Runtime, identity: Identity, name: str, reason: str,
            route: Route = DIRECT) -> Written:
    """Create environment ``name`` with the caller (an admin) as its only member."""
    check_env_name(name)

    def build(snap: Snapshot) -> Plan:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "add an environment")
        if name in snap.environments():
            raise UsageError(f"environment {name!r} already exists")
        # The new environment's rules (a default, or one written ahead of it) bind its
        # creation as they bind its first grant: a reason, a ticket pattern.
        authorize_write(snap.policy, name, acting.signer, reason)
        _refuse_unapprovable(snap, name, acting.principal)
        data = envfile.render(new_env_file(name, acting.principal, identity))
        rec = Record("init", acting.principal, reason, (name,), context=context_for(rt))
        return Plan({envfile.path_for(name): data}, rec)

    return transact(git, rt, identity, build, route=route)


def _refuse_unapprovable(snap: Snapshot, name: str, author: str) -> None:
    """AccessDenied (a policy refusal) where ``name``, made with its author as its only member, would ask for
    approvals that nobody could give (review14 R5: under a default count whose approvers
    are the members, no change there, nor of policy, signers or members, could ever be
    approved again)."""
    rule = snap.policy.rule_for(name)
    others = (set(rule.approvers) if rule.approvers is not None else set()) - {author}
    if rule.approvals > len(others):
        raise AccessDenied(f"{name} would need {rule.approvals} approval(s) by its approvers, "
                         f"and a new environment's only member is you, {author}",
                         hint=f"name its approvers first: `envtrail policy set --env {name} "
                              "--approvers NAME,NAME --reason ...`, then add it")
