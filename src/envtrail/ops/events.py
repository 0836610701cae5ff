"""``event``: a signed marker (deploy, restart, incident note) on the events line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from envtrail.audit import eventacks, eventline
from envtrail.audit.record import Record, render
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, ConflictError, UsageError
from envtrail.gitstore.commit import Author, CasFailed, create_commit, move_branch, not_before
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_reason
from envtrail.ops import journal
from envtrail.ops.gate import open_line
from envtrail.ops.store import whoami
from envtrail.ops.txn import MAX_ATTEMPTS, Written, context_for, signer_for
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Claims:
    """What an event says about the world: the signer's word, shown as such."""

    ref: str | None = None
    status: str | None = None
    start: datetime | None = None
    duration: float | None = None


def check_claims(kind: str, environment: str, reason: str | None,
                 claims: Claims = Claims()) -> str:
    """The event's reason, once all it says that needs no store is well formed (else
    UsageError): ``run --event`` asks before it starts the command, not after."""
    check_env_name(environment)
    if not eventline.KIND_RE.fullmatch(kind):
        raise UsageError(f"invalid event kind {kind[:40]!r}",
                         hint="lower-case letters, digits, '.', '_' or '-', e.g. deploy")
    for name, value in (("--ref", claims.ref), ("--status", claims.status)):
        if value is not None and not eventline.CLAIM_RE.fullmatch(value):
            raise UsageError(f"{name} takes one printable line of at most 200 characters")
    text = check_reason(reason)
    if not text:
        raise UsageError("an event needs a --reason")
    return text


def record_event(git: GitRepo, rt: Runtime, identity: Identity, kind: str, environment: str,
                 reason: str | None, claims: Claims = Claims(),
                 ran_with: str | None = None) -> Written:
    """Write one event for ``environment`` after the verified store line head, or after
    ``ran_with`` (the line commit whose values a command ran with, which the line may
    have moved past while it ran: a deploy is never shown after a change it did not see)."""
    text = check_claims(kind, environment, reason, claims)
    line = open_line(git, rt, identity)
    if line.head is None:
        raise UsageError("the store has no commits yet")
    snap = line.snapshot
    acting = whoami(snap, identity, rt)
    if snap.env(environment).member_with_key(identity.public.openssh) is None:
        raise AccessDenied(f"only members of {environment} write events for it")
    after = line.head
    if ran_with is not None and git.has_commit(ran_with) and \
            git.first_parents(line.head, ran_with)[1]:
        after = ran_with
    extra = [(eventline.AFTER, after), (eventline.KIND, kind)]
    if claims.ref is not None:
        extra.append((eventline.REF, claims.ref))
    if claims.status is not None:
        extra.append((eventline.STATUS, claims.status))
    if claims.start is not None:
        extra.append((eventline.START, claims.start.isoformat()))
    if claims.duration is not None:
        extra.append((eventline.DURATION, f"{claims.duration:.3f}s"))
    rec = Record("event", acting.principal, text, (environment,), context=context_for(rt),
                 extra=tuple(extra))
    for _ in range(MAX_ATTEMPTS):
        parent = git.ref_target(eventline.EVENTS_REF)
        last = eventline.follows(git, parent)
        # (An event before may name a commit a rewrite took off the line, gone here.)
        if last is not None and last != after and git.has_commit(last) \
                and git.first_parents(last, after)[1]:
            # An event written meanwhile names a later commit; the events line keeps the
            # store line's order, so this one follows that commit too.
            rec = replace(rec, extra=tuple((k, last if k == eventline.AFTER else v)
                                           for k, v in rec.extra))
            after = last
        # No earlier than the event before it, passing over those a repair acknowledged
        # as dated ahead (one far ahead would otherwise drag every event after it).
        below = eventacks.floor_for(line.view, parent, line.head, rt.now(), line.tainted)
        when = not_before(rt.now(), below, git.info(after).committer_time)
        commit = create_commit(git, [parent] if parent else [], {}, render(rec),
                               Author(rec.actor, rec.actor, when), signer_for(identity))
        try:
            move_branch(git, eventline.EVENTS_REF, parent, commit, f"envtrail: event {kind}")
        except CasFailed:
            continue
        journal.remember(git, commit, identity.public.openssh, journal.EVENTS)  # sync replays it
        return Written(commit, rec)
    raise ConflictError("the events line kept moving; no event was written", hint="retry")
