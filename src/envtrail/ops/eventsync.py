"""The events line in ``sync``: forward only, like the store line, and never merged.

The remote's ``refs/envtrail/events`` must still hold the events head this
clone last saw there, and must verify, before anything here changes. Events
this clone wrote since (journalled at write time) are re-made on top of the
remote's events line as new signed commits by their own signer, each naming
a store commit on the line being pushed (``Envtrail-After``): the replacement
of the commit it named, where sync replayed that one, and never an older one
than the event before it names, so the events line stays in line order
(:mod:`envtrail.ops.eventreplay` re-makes one event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envtrail.audit import checkpoint, eventacks, eventline
from envtrail.audit.history import parse_record
from envtrail.audit.verify import Finding
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity, key_id
from envtrail.errors import ConflictError, IntegrityError, UsageError
from envtrail.gitstore.commit import CasFailed, move_branch
from envtrail.gitstore.remote import RefUpdate, Upstream, mirror
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import journal
from envtrail.ops.delta import Delta, Item
from envtrail.ops.eventreplay import NO_TRUE_PLACE, on_line, replaced_on, replay_event
from envtrail.runtime import Runtime

EVENTS_REF = eventline.EVENTS_REF


@dataclass(frozen=True)
class EventsPlan:
    """What sync does with the events line: the push (if any) and what to tell the user."""

    update: RefUpdate | None
    tip: str | None  # this clone's events head once the push lands
    received: int = 0
    replayed: int = 0
    # Received events signed with a key the store line has closed since: taken as dated.
    closed: tuple[str, ...] = ()


def check_incoming(git: GitRepo, up: Upstream, seen: str | None,
                   store_head: str | None) -> None:
    """Exit 5, before anything changes, if the remote's events line went back or does not
    verify against the remote's store line. An event dated ahead of this clone's clock is
    taken: a fast clock is no forgery, its date passes, and refusing it stopped every
    clone's sync, store changes included, until then (attack24 U4); `verify` reports it
    meanwhile."""
    theirs = git.ref_target(mirror(up, EVENTS_REF))
    if theirs is not None and not git.has_commit(theirs):
        raise IntegrityError(f"{up.remote}'s events line is not a commit; nothing was changed")
    if seen is not None and (theirs is None or not git.first_parents(theirs, seen)[1]):
        raise IntegrityError(
            f"{up.remote}'s events line no longer contains {seen[:10]}, the events head this "
            "clone last saw there (rewound or rewritten); nothing was changed",
            hint="ask whoever force-pushed it; see docs/git-workflow.md")
    if theirs is None or theirs in (seen, git.ref_target(EVENTS_REF)):
        return  # accepted before: the walk is paid once per new events head
    found = findings(git, store_head, theirs)
    if found:
        raise IntegrityError(f"the remote's events line does not verify: {found[0].line()}",
                             hint="nothing was changed; ask whoever pushed it")


def findings(git: GitRepo, store_head: str | None, tip: str | None) -> list[Finding]:
    """What an events line ending at ``tip`` is judged by, against the store line up to
    ``store_head``: the remote's before sync takes it, this clone's before sync or a
    plain `git push` sends it (one judge, so neither lets through what the other refuses)."""
    if tip is None:
        return []
    view = StoreView(git)  # one parse of the store files for both judgements
    tainted = checkpoint.load_tainted(git.root) | _repaired_on(view, store_head)
    return _standing(view, store_head, tip, tainted)


def _repaired_on(view: StoreView, store_head: str | None) -> frozenset[str]:
    """The states repairs on the line to ``store_head`` go back over (each one's clean
    point, excluded, to its parent), as the walk taints them: a remote's line is judged
    here before this clone's walk has met its repairs (attack27 F2). Only an admin's
    repair outside a later one's range counts (attack28 G1, G2). Newest first."""
    from envtrail.audit.repairs import CLEAN

    git, out = view.git, set()
    for commit in (git.first_parents_saying(store_head, f"^Envtrail-{CLEAN}: ") or []
                   if store_head else []):
        info = git.info(commit)
        rec = parse_record(info)
        clean = rec.extra_value(CLEAN) if rec is not None else None
        if commit in out or rec is None or rec.action != "repair" or not clean \
                or not info.parents or not git.has_commit(clean) \
                or not eventacks.by_an_admin(view, info, rec):
            continue
        ids, met = git.first_parents(info.parents[0], clean)
        out.update(ids if met else ())
    return frozenset(out)


def reconcile(git: GitRepo, rt: Runtime, identity: Identity, up: Upstream, head: str | None,
              incoming: str | None) -> EventsPlan:
    """Bring this clone's events line onto the remote's; ``head`` is the store line about
    to be pushed (or already there), ``incoming`` the remote's store head."""
    ours = git.ref_target(EVENTS_REF)
    theirs = git.ref_target(mirror(up, EVENTS_REF))
    if ours == theirs:
        return EventsPlan(None, ours)
    if ours is None or (theirs is not None and git.is_ancestor(ours, theirs)):
        _move(git, ours, theirs)
        return EventsPlan(None, theirs, received=_count(git, theirs, ours),
                          closed=_closed_signers(git, theirs, ours, head))
    moved = replaced_on(git, head, incoming)
    if theirs is None or git.is_ancestor(theirs, ours):
        base = theirs
        mine = _since(git, ours, base)
        if head is not None and all(on_line(git, eventline.follows(git, c), head) for c in mine):
            _refuse_bad(git, head, ours)
            return EventsPlan(RefUpdate(EVENTS_REF, ours, theirs), ours)
    else:
        base = git.merge_base(ours, theirs)
        mine = _since(git, ours, base)
    _only_mine(git, identity, mine)
    parent = theirs
    for commit in mine:
        parent = replay_event(git, rt, identity, commit, parent, head, incoming, moved)
        journal.remember(git, parent, identity.public.openssh, journal.EVENTS)
    _refuse_bad(git, head, parent)
    _move(git, ours, parent)
    return EventsPlan(RefUpdate(EVENTS_REF, parent, theirs), parent,
                      received=_count(git, theirs, base), replayed=len(mine),
                      closed=_closed_signers(git, theirs, base, head))


def _closed_signers(git: GitRepo, tip: str | None, base: str | None,
                    head: str | None) -> tuple[str, ...]:
    """Notes on the received events (``base`` to ``tip``) signed with a key closed at the
    store ``head``: a revoked member can date one before their revocation, which no clone
    can tell from an honest event pushed late (attack26 R1): taken, and said."""
    from envtrail.audit import signature

    if tip is None or head is None:
        return ()
    view = StoreView(git)
    open_keys = {key_id(s.key) for s in view.signers(head) if s.valid_before is None}
    out = []
    for commit in _since(git, tip, base):
        verdict = signature.check(view, git.info(commit), trust_at=head)
        if verdict.key and key_id(verdict.key) not in open_keys:
            who = f"{verdict.principal} with a key the store line has closed since" \
                if verdict.principal else "a key the store line does not hold"
            out.append(f"event {commit[:10]} is signed by {who}; taken as the time it "
                       "gives, which its signer chose")
    return tuple(out)


@dataclass(frozen=True)
class Pending:
    """One event of this clone's events line that the remote does not have yet."""

    commit: str
    after: str | None  # the store commit it follows
    kind: str
    environments: tuple[str, ...]


def pending(git: GitRepo, up: Upstream) -> list[Pending]:
    """This clone's events the remote's events line does not hold, oldest first."""
    ours = git.ref_target(EVENTS_REF)
    theirs = git.ref_target(mirror(up, EVENTS_REF))
    if ours is None or ours == theirs or (theirs is not None and git.is_ancestor(ours, theirs)):
        return []
    base = theirs if theirs is None or git.is_ancestor(theirs, ours) else \
        git.merge_base(ours, theirs)
    out = []
    for commit in _since(git, ours, base):
        rec = parse_record(git.info(commit))
        if rec is not None:
            out.append(Pending(commit, eventline.after_of(rec),
                               rec.extra_value(eventline.KIND) or "?", rec.environments))
    return out


def keep_what_ran(events: Sequence[Pending], mine_now: list[str], steps: Mapping[str, Delta],
                  drop: set[Item], unapplied: Mapping[str, tuple[str, ...]],
                  theirs: Delta) -> None:
    """Refuse, before anything is written, a sync that would re-make one of this clone's
    unpushed events after a commit whose values of its environment are not those it ran
    with: one that follows a proposal applied here that goes back to being a proposal
    (``unapplied``, each with the environments it changes), or a value the remote changed
    (``theirs``) that this clone's commits up to the event did not (both exit 6), or one
    whose value ``--theirs`` would settle away (``drop``: exit 2). Re-made, the event would
    blame a deploy on a change it never saw."""
    for event in events:
        if event.after not in mine_now:
            continue
        upto = mine_now[:mine_now.index(event.after) + 1]
        lost_proposals = [c for c in upto
                          if set(unapplied.get(c, ())) & set(event.environments)]
        if lost_proposals:
            raise ConflictError(
                f"the {event.kind} event {event.commit[:10]} ran with proposal "
                f"{lost_proposals[0][:12]} applied here, which the remote's line has moved "
                "past (it goes back to being a proposal); nothing was changed",
                hint=NO_TRUE_PLACE)
        ran = {i for c in upto if c in steps for i in steps[c].items
               if i.kind == "value" and i.env in event.environments}
        lost = sorted(ran & drop)
        if lost:
            label = lost[0].label()
            raise UsageError(
                f"--theirs {label} would drop the value the {event.kind} event "
                f"{event.commit[:10]} ran with (it follows {event.after[:10]}, not pushed "
                "yet); nothing was changed",
                hint=f"keep it with `--mine {label}` (the {event.kind}'s values then stay on "
                     "the line), and set the remote's value again after the sync if it should "
                     "win")
        unseen = sorted(i for i in theirs.items
                        if i.kind == "value" and i.env in event.environments and i not in ran)
        if unseen:
            raise ConflictError(
                f"the {event.kind} event {event.commit[:10]} ran before the remote's change "
                f"to {unseen[0].label()} (it follows {event.after[:10]}, not pushed yet): "
                "re-made, it would follow a value it never ran with; nothing was changed",
                hint=NO_TRUE_PLACE)


def _refuse_bad(git: GitRepo, head: str | None, tip: str | None) -> None:
    """Never push an events line that would stop everyone else's sync."""
    found = findings(git, head, tip)
    if found:
        raise IntegrityError(f"this clone's events line does not verify: "
                             f"{found[0].line()}; nothing was pushed",
                             hint="run `envtrail verify` for details")


def _standing(view: StoreView, head: str | None, tip: str,
              tainted: frozenset[str]) -> list[Finding]:
    """The findings on the events line ending at ``tip`` that stop sync. An event after a
    state a repair acknowledged is a warning in verify; sync judges it anyway, by the
    trust of the newest state before it no repair named (never the repaired state's own,
    maybe a forger's: attack27 F2): an honest one stops no sync, a forged one does."""
    found = eventline.check(view, head, tip=tip, tainted=tainted)
    later = {f.commit for f in found if f.message == eventline.AFTER_REPAIRED}
    if not later:
        return found
    return [f for f in found if f.commit not in later] + \
        [f for f in eventline.check(view, head, tip=tip, repaired=tainted) if f.commit in later]


def landed(git: GitRepo, tip: str | None) -> None:
    """The remote has ``tip``: forget journalled events that are on it or were replaced."""
    current = git.ref_target(EVENTS_REF)
    gone = [c for c in journal.written(git, journal.EVENTS)
            if not git.has_commit(c) or (tip is not None and git.is_ancestor(c, tip))
            or current is None or not git.is_ancestor(c, current)]
    journal.forget(git, gone, journal.EVENTS)


def _since(git: GitRepo, tip: str, base: str | None) -> list[str]:
    ids, _ = git.first_parents(tip, base)
    return ids[::-1]


def _count(git: GitRepo, tip: str | None, base: str | None) -> int:
    return len(git.first_parents(tip, base)[0]) if tip else 0


def _only_mine(git: GitRepo, identity: Identity, commits: list[str]) -> None:
    wrote, key = journal.written(git, journal.EVENTS), key_id(identity.public.openssh)
    for commit in commits:
        if commit not in wrote:
            raise ConflictError(f"event {commit[:10]} is not yours to replay: this clone did "
                                "not write it", hint="push it from the clone that wrote it, or "
                                f"`git update-ref {EVENTS_REF} <the remote's events head>`")
        if wrote[commit] != key:
            raise ConflictError(f"event {commit[:10]} was signed with another key than the "
                                "one in use", hint="run `envtrail sync` with that identity "
                                                   "(--identity)")



def _move(git: GitRepo, old: str | None, new: str | None) -> None:
    if new is None:
        return
    try:
        move_branch(git, EVENTS_REF, old, new, "envtrail: sync events")
    except CasFailed:
        raise ConflictError("an event was written during sync; nothing was pushed",
                            hint="run `envtrail sync` again") from None
