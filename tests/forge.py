"""Helpers that write commits the way an attacker or a careless person would.

They use envtrail's own building blocks (so the file content is realistic)
but bypass its checks, to prove that verify catches each kind of lie.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from envtrail.audit import record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.gitstore.commit import Author, create_commit, move_branch, refresh_worktree
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret
from envtrail.ops.txn import Plan, signer_for
from envtrail.ops.values import plan_values
from envtrail.runtime import Runtime


def runtime(store: Path) -> Runtime:
    return Runtime(env={}, cwd=store, home=store, host="forge")


def honest_plan(store: Path, identity: Identity, env: str, updates: dict[str, str],
                reason: str = "forged") -> Plan:
    """What envtrail would write for ``updates`` as ``identity``."""
    g = GitRepo(store)
    plan = plan_values(Snapshot(g, g.head()), runtime(store), identity, env,
                       {k: Secret(v) for k, v in updates.items()}, set(), reason, "set")
    assert plan is not None
    return plan


def commit_plan(store: Path, identity: Identity | None, plan: Plan, message: str | None = None,
                when: datetime | None = None) -> str:
    """Commit ``plan`` (optionally with another message or time), signed by ``identity``."""
    g = GitRepo(store)
    head = g.head()
    when = when or g.info(head).committer_time + timedelta(seconds=1)
    msg = message if message is not None else record.render(plan.record)
    sign = signer_for(identity) if identity else None
    if sign is None:
        # An unsigned commit: write through git itself.
        for path, data in plan.changes.items():
            (store / path).write_bytes(data)
        import subprocess

        subprocess.run(["git", "commit", "-q", "-a", "-m", msg], cwd=store, check=True)
        return g.head()
    author = Author(plan.record.actor, plan.record.actor, when)
    commit = create_commit(g, [head], plan.changes, msg, author, sign)
    move_branch(g, g.branch(), head, commit, "forge")
    refresh_worktree(g, commit, sorted(plan.changes))
    return commit


def with_record(plan: Plan, **changes) -> Plan:
    return Plan(plan.changes, replace(plan.record, **changes))


def lying_set(store: Path, identity: Identity, env: str, key: str, value: str) -> str:
    """A set signed by ``identity`` (a member, so the value is sealed right) whose
    Envtrail-Change fingerprints are made up: only a walk with a key to ``env`` sees it."""
    plan = honest_plan(store, identity, env, {key: value}, reason="rotate INC-7")
    lies = tuple(replace(c, old_fp=c.old_fp and "1" * len(c.old_fp), new_fp="0" * len(c.new_fp))
                 for c in plan.record.changes)
    return commit_plan(store, identity, with_record(plan, changes=lies))
