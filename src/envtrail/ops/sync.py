"""sync: fetch, merge per variable, a signed merge commit, push. Never rebases."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit import record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot, value_diff
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError, IntegrityError
from envtrail.format import envfile, signers
from envtrail.format.envfile import EnvFile
from envtrail.format.layout import SIGNERS, STORE_PATHS
from envtrail.format.merge import merge_maps
from envtrail.gitstore.commit import (
    Author,
    CasFailed,
    create_commit,
    journal_begin,
    journal_end,
    merged_tree,
    move_branch,
    recover,
    refresh_worktree,
    require_clean,
)
from envtrail.gitstore.discover import state_dir
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.remote import Upstream, fetch, push, upstream
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change, check_reason
from envtrail.ops.merge import merge_env
from envtrail.ops.store import whoami
from envtrail.ops.txn import context_for, signer_for
from envtrail.runtime import Runtime

MAX_ROUNDS = 5


@dataclass(frozen=True)
class SyncResult:
    """What sync did: up-to-date, pushed, fast-forward, or merged (and pushed)."""

    outcome: str
    upstream: Upstream
    commit: str | None = None
    record: Record | None = None


def sync(git: GitRepo, rt: Runtime, identity: Identity, remote: str | None = None,
         reason: str | None = None) -> SyncResult:
    """Bring the branch and its upstream together; a conflict changes nothing locally."""
    text = check_reason(reason)
    branch = git.branch()
    up = upstream(git.root, branch, remote)
    with WriteLock(state_dir(git.root) / "lock"):
        recover(git)
        for _ in range(MAX_ROUNDS):
            exists = fetch(git.root, up)
            ours, theirs = git.head(), git.ref_target(up.tracking_ref) if exists else None
            if theirs is None or (ours is not None and git.is_ancestor(theirs, ours)):
                if ours is None or ours == theirs:
                    return SyncResult("up-to-date", up, ours)
                if push(git.root, up, ours):
                    return SyncResult("pushed", up, ours)
                continue
            _vouch_for_incoming(git, ours, theirs)
            if ours is None or git.is_ancestor(ours, theirs):
                _advance(git, branch, ours, theirs, "envtrail: sync (fast-forward)")
                return SyncResult("fast-forward", up, theirs)
            commit, rec = _merge(git, rt, identity, ours, theirs, up, text)
            _advance(git, branch, ours, commit, "envtrail: sync (merge)")
            if push(git.root, up, commit):
                return SyncResult("merged", up, commit, rec)
        raise ConflictError(f"{up.remote} kept moving while syncing; local commits are kept",
                            hint="run `envtrail sync` again")


def _vouch_for_incoming(git: GitRepo, ours: str | None, theirs: str) -> None:
    """Refuse to bring in commits that do not verify (nothing local changes then)."""
    from envtrail.audit.verify import Verifier
    from envtrail.audit.view import StoreView

    for finding in Verifier(StoreView(git)).walk(theirs, since=ours):
        raise IntegrityError(f"the remote's history does not verify: {finding.line()}",
                             hint="nothing was merged; ask whoever pushed it, and see "
                                  "`envtrail verify` in a clone of the remote")


def _advance(git: GitRepo, branch: str, old: str | None, new: str, why: str) -> None:
    """Move the branch from ``old`` to ``new`` and bring the work tree along."""
    paths = git.changed_paths(old, new)
    require_clean(git, old, paths)
    journal_begin(git, branch, old, new, paths)
    try:
        move_branch(git, branch, old, new, why)
    except CasFailed:
        journal_end(git)
        raise ConflictError("the branch moved during sync; nothing was changed",
                            hint="run `envtrail sync` again") from None
    refresh_worktree(git, new, paths)
    journal_end(git)


def _merge(git: GitRepo, rt: Runtime, identity: Identity, ours: str, theirs: str,
           up: Upstream, reason: str) -> tuple[str, Record]:
    """A signed merge commit of ``theirs`` into ``ours``, or ConflictError (nothing written)."""
    acting = whoami(Snapshot(git, ours), identity, rt)
    base = git.merge_base(ours, theirs)
    store = tuple(p + "/" for p in STORE_PATHS)
    resolved = {path: _merge_store_file(git, identity, path, base, ours, theirs)
                for path in git.changed_paths(ours, theirs) if path.startswith(store)}
    tree, conflicts = merged_tree(git, ours, theirs, resolved)
    if tree is None:
        raise ConflictError(f"merge conflict outside envtrail's files: {', '.join(conflicts[:5])}",
                            hint="merge those with git, then run `envtrail sync`")
    rec = _record(git, identity, acting.principal, ours, resolved, up, reason, rt)
    author = Author(acting.principal, acting.principal, rt.now())
    commit = create_commit(git, [ours, theirs], {}, record.render(rec), author,
                           signer_for(identity), tree=tree)
    return commit, rec


def _merge_store_file(git: GitRepo, identity: Identity, path: str, base: str | None,
                      ours: str, theirs: str) -> bytes | None:
    b, o, t = (git.read(c, path) for c in (base, ours, theirs))
    if o == t:
        return o
    if o == b:
        return t
    if t == b:
        return o
    if path.startswith("envs/") and o is not None and t is not None:
        merged = merge_env(envfile.parse(b, path) if b else None, envfile.parse(o, path),
                           envfile.parse(t, path), path, identity)
        return envfile.render(merged)
    if path == SIGNERS and o is not None and t is not None:
        by = [{s.principal: s for s in signers.parse(x)} if x else {} for x in (b, o, t)]
        lines, conflicts = merge_maps(*by)
        if not conflicts:
            return signers.render([lines[p] for p in lines])
        raise ConflictError(f"{path}: both sides changed signer {conflicts[0]}")
    raise ConflictError(f"{path}: changed on both sides", hint="settle it on one side first")


def _record(git: GitRepo, identity: Identity, actor: str, ours: str,
            resolved: dict[str, bytes | None], up: Upstream, reason: str, rt: Runtime) -> Record:
    """The masked diff of what the merge brings into ``ours``."""
    keyring = Keyring(identity)
    changed_envs, changes = [], []
    pairs = {}
    for path, data in sorted(resolved.items()):
        if path.startswith("envs/") and path.endswith(".yaml"):
            env = path[len("envs/"):-len(".yaml")]
            old_data = git.read(ours, path)
            old = envfile.parse(old_data, path) if old_data else None
            new = envfile.parse(data, path) if data else None
            if value_diff(old, new):
                changed_envs.append(env)
                pairs[env] = (old, new)
    qualify = len(changed_envs) > 1
    for env in changed_envs:
        old, new = pairs[env]
        for key, op in sorted(value_diff(old, new).items()):
            name = f"{env}:{key}" if qualify else key
            changes.append(Change(op, name,
                                  _fp(keyring, old, key) if op != "+" else None,
                                  _fp(keyring, new, key) if op != "-" else None))
    return Record("merge", actor, reason or f"sync with {up.remote}/{up.branch}",
                  tuple(changed_envs), tuple(changes), context_for(rt))


def _fp(keyring: Keyring, env: EnvFile | None, key: str) -> str:
    # A signer who is no member of this environment cannot compute it: "?".
    return (keyring.fingerprint(env, key) if env is not None else None) or "?"
