"""Re-making one of this clone's events on the remote's events line (``sync``).

The event is signed again by its own signer and names a store commit on the
line being pushed: the one it named, else what replaced it, never older than
the event it now follows, and never past a change to its environment's values.
"""

from __future__ import annotations

from dataclasses import replace

from envtrail.audit import checkpoint, eventacks, eventline
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import render
from envtrail.audit.verify import AHEAD
from envtrail.audit.view import Snapshot, StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError
from envtrail.gitstore.commit import Author, create_commit, not_before
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.delta import delta
from envtrail.ops.replay import REPLAYED
from envtrail.ops.store import whoami
from envtrail.ops.txn import signer_for
from envtrail.runtime import Runtime

NO_TRUE_PLACE = "see docs/git-workflow.md, \"An event no shared commit matches\""


def replaced_on(git: GitRepo, head: str | None, incoming: str | None) -> dict[str, str]:
    """Original store commit -> the commit that replaced it on the line being pushed."""
    if head is None or head == incoming:
        return {}
    out = {}
    for commit in git.first_parents(head, incoming)[0]:
        rec = parse_record(git.info(commit))
        original = rec.extra_value(REPLAYED) if rec else None
        if original:
            out[original] = commit
    return out


def on_line(git: GitRepo, commit: str | None, head: str) -> bool:
    """Whether ``commit`` is on the store line ending at ``head``."""
    return commit is not None and git.has_commit(commit) and git.is_ancestor(commit, head)


def _target(git: GitRepo, after: str | None, head: str, incoming: str | None,
            moved: dict[str, str]) -> str:
    """The line commit a replayed event follows."""
    if on_line(git, after, head):
        return after  # type: ignore[return-value]
    # Where sync dropped the commit it followed, that commit left nothing to replay: the
    # remote already held what it did (both sides wrote the same). A settlement taking the
    # remote's side of a value the event ran with, and un-applying a proposal it ran with,
    # are refused before anything is written (keep_what_ran), so what is left differs
    # from what the event ran with only as after any replay. The event then follows what
    # replaced the nearest earlier commit of this clone, else the remote's head.
    current = after
    while current is not None:
        replaced = _replacement(git, current, moved)
        if replaced is not None:
            return replaced
        parents = git.info(current).parents if git.has_commit(current) else []
        current = parents[0] if parents and not on_line(git, parents[0], head) else None
    return incoming or head


def _replacement(git: GitRepo, commit: str, moved: dict[str, str]) -> str | None:
    if commit in moved:
        return moved[commit]
    rec = parse_record(git.info(commit)) if git.has_commit(commit) else None
    original = rec.extra_value(REPLAYED) if rec else None  # a replay replayed again
    return moved.get(original) if original else None


def replay_event(git: GitRepo, rt: Runtime, identity: Identity, original: str, parent: str | None,
            head: str | None, incoming: str | None, moved: dict[str, str]) -> str:
    """One event re-made on ``parent`` (the events line), signed now by its own signer."""
    info = git.info(original)
    rec = parse_record(info)
    if rec is None or head is None:
        raise ConflictError(f"event {original[:10]} carries no envtrail record")
    after = _target(git, eventline.after_of(rec), head, incoming, moved)
    env = rec.environments[0] if len(rec.environments) == 1 else ""
    before = eventline.follows(git, parent)
    if before is not None and not git.is_ancestor(before, after):
        # Never older than the event it now follows; but an event moved past a change
        # to its environment's values would name values it never ran with.
        _refuse_outsider(Snapshot(git, before), env, identity, original)
        changed = sorted(i.label() for i in delta(git, Keyring(identity), after, before).items
                         if i.kind == "value" and i.env == env)
        if changed:
            raise ConflictError(
                f"the {rec.extra_value(eventline.KIND) or '?'} event {original[:10]} ran "
                f"before {changed[0]} changed (a later event on the remote follows that "
                "change): no place on the events line is true for it; nothing was pushed",
                hint=NO_TRUE_PLACE)
        after = before
    snap = Snapshot(git, after)
    acting = whoami(snap, identity, rt)
    _refuse_outsider(snap, env, identity, original)
    extra = [(k, after if k == eventline.AFTER else v) for k, v in rec.extra if k != REPLAYED]
    extra.append((REPLAYED, rec.extra_value(REPLAYED) or original))
    new = replace(rec, actor=acting.principal, extra=tuple(extra))
    # When it happened, unless the line says later; an event dated ahead of this clock
    # (dragged by one a repair has since acknowledged) happened now at the latest.
    now = rt.now()
    happened = min(info.committer_time, now) if info.committer_time > now + AHEAD else \
        info.committer_time
    below = eventacks.floor_for(StoreView(git), parent, head, now,
                                checkpoint.load_tainted(git.root))
    when = not_before(happened, below, git.info(after).committer_time)
    return create_commit(git, [parent] if parent else [], {}, render(new),
                         Author(new.actor, new.actor, when), signer_for(identity))


def _refuse_outsider(snap: Snapshot, env: str, identity: Identity, original: str) -> None:
    if env not in snap.environments() or \
            snap.env(env).member_with_key(identity.public.openssh) is None:
        raise ConflictError(f"event {original[:10]} cannot be replayed: you are no longer a "
                            f"member of {env or 'its environment'} on the remote's line; "
                            "nothing was pushed", hint=NO_TRUE_PLACE)
