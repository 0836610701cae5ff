"""A proposal as this clone reads it: its change, its approvals judged as rule 9 will
judge them on the line, and whether it can be applied.

Reading needs no key; ``review``, ``approve`` and ``apply`` (ops.approvals)
start here, and ``proposals`` lists them all.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime

from envtrail.audit import checkpoint, line, signature
from envtrail.audit.actions import disagreements
from envtrail.audit.approvals import Requirement, requirement
from envtrail.audit.effect import Effect, keys_until, of_commit
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.ledger import Ledger
from envtrail.audit.record import Record
from envtrail.audit.repairs import signature_state
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name
from envtrail.ops.reach import find_stranded
from envtrail.ops.routing import proposal_ids, proposal_root
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Approval:
    """One approval commit: who, when, why."""

    commit: str
    approver: str
    time: datetime
    reason: str


@dataclass(frozen=True)
class Proposal:
    """A proposed change, its approvals so far, and whether it can be applied."""

    id: str
    commit: str
    base: str | None
    tip: str
    record: Record
    need: Requirement | None
    approvals: tuple[Approval, ...]
    counted: tuple[str, ...]  # approvers whose approval counts
    problems: tuple[str, ...]  # approvals that do not count, and why
    stale: bool  # the line has moved past its base
    # What its tree changes, read from the tree: what an approver approves, whatever
    # the record claims.
    effect: Effect
    mislabelled: tuple[str, ...] = ()  # how its tree disagrees with its action (rule 3)
    stuck: str | None = None  # what nobody could approve again once it landed (never applied)
    # What verify finds in it on its base, approvals aside (where :func:`with_findings`
    # was asked): a proposal with any cannot land, and no approval should be spent on it.
    findings: tuple[str, ...] = ()

    @property
    def new_readers(self) -> tuple[tuple[str, str], ...]:
        """(environment, principal): members it seals a key to who were none at its base.
        They can read that environment from the proposal itself, approved or not."""
        return tuple((e.environment, p) for e in self.effect.environments for p in e.added)

    @property
    def needed(self) -> int:
        """How many approvals it needs."""
        return self.need.needed if self.need else 0

    @property
    def ready(self) -> bool:
        """Enough valid approvals directly on top of it."""
        return (self.need is None or self.need.met(self.counted)) and not self.problems

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"id": self.id, "commit": self.commit, "base": self.base,
                "environments": list(self.record.environments), "action": self.record.action,
                "author": self.record.actor, "reason": self.record.reason,
                "changes": [{"key": c.key, "change": c.op, "old_fp": c.old_fp,
                             "new_fp": c.new_fp} for c in self.record.changes],
                "needed": self.needed, "approved_by": list(self.counted),
                "approvals": [{"commit": a.commit, "approver": a.approver,
                               "time": a.time.isoformat(), "reason": a.reason}
                              for a in self.approvals],
                "problems": list(self.problems), "stale": self.stale, "ready": self.ready,
                "new_readers": [{"environment": e, "principal": p} for e, p in self.new_readers],
                "tree": self.effect.as_dict(), "mislabelled": list(self.mislabelled),
                "stuck": self.stuck, "findings": list(self.findings)}


def load(git: GitRepo, view: StoreView, proposal_id: str, head: str | None) -> Proposal:
    """Read one proposal (named by its id or a unique prefix, routing.find_proposal) and
    judge its approvals as rule 9 will on the line."""
    proposal_id, tip, chain, rec = proposal_root(git, proposal_id)
    info = git.info(chain[0])
    ledger, problems, approvals = Ledger(view), [], []
    for commit in chain:
        c_info = git.info(commit)
        c_rec = parse_record(c_info)
        # A proposed repair is signed as of its clean point, as the line walk judges it.
        verdict = signature.check(view, c_info, signature_state(view, c_info, c_rec))
        if commit != chain[0]:
            if c_rec is None or not verdict.good:
                problems.append(f"{commit[:10]} is not a good signed approval")
                continue
            approvals.append(Approval(commit, verdict.principal or "", c_info.committer_time,
                                      c_rec.reason))
        problems += [message for _, message in ledger.step(c_info, c_rec, verdict)]
    need = requirement(view, info, rec)
    counted = tuple(ledger.got)
    base = info.parents[0] if info.parents else None
    done = of_commit(view, base, info.id)
    # (A repair is judged against its clean point, not its parent: audit.repairs.)
    mislabelled = () if rec.action == "repair" else disagreements(rec, done, base is None)
    stuck = None
    if rec.action != "repair":  # (a repair undoes a forged head, whose files may not read)
        with contextlib.suppress(IntegrityError):
            stuck = find_stranded(view.at(base), view.at(info.id))
    return Proposal(proposal_id, info.id, base, tip, rec, need, tuple(approvals), counted,
                    tuple(problems), base != head, done, tuple(mislabelled), stuck)


def walk_on_base(view: StoreView, tip: str, base: str, keyring: Keyring, now: datetime, *,
                 floor: datetime | None,
                 keys: frozenset[str] | None = None) -> line.LineReport:
    """The line walk of a proposal as ``apply`` makes it: from its base up to ``tip``
    (its commit, or its approvals too). ``floor``: the line's time floor at the base;
    ``keys``: the public keys the line used up to the base (default: the checkpoint's
    where it stands there, else read from the line)."""
    return line.walk(view, tip, keyring=keyring, since=base, floor=floor, now=now,
                     keys=keys if keys is not None else checkpoint.keys_at(view.git.root, base))


def with_findings(view: StoreView, prop: Proposal, keyring: Keyring, now: datetime,
                  keys: frozenset[str] | None = None) -> Proposal:
    """``prop`` with what verify finds in its commit on its base, every rule but rule 9
    (the approvals it waits for): the walk ``apply`` makes, so that a proposal that cannot
    land as it is (a rotation to a key pair the line used before, a fingerprint that lies
    to ``keyring``'s key) says so before anyone approves it. A stale proposal is left as it
    is (only a re-made one can land), and so is a repair, judged from its clean point.
    ``keys``: the public keys the line used up to the base, if the caller knows them."""
    if prop.stale or prop.base is None or prop.record.action == "repair":
        return prop
    try:
        report = walk_on_base(view, prop.commit, prop.base, keyring, now,
                              floor=view.git.info(prop.base).committer_time, keys=keys)
    except IntegrityError as exc:  # a file its base or it holds that cannot be read
        return replace(prop, findings=(exc.message,))
    found = tuple(f.line() for f in report.findings if f.rule != 9)
    return replace(prop, findings=found) if found else prop


def proposals(git: GitRepo, rt: Runtime, environment: str | None = None) -> list[Proposal]:
    """Every proposal in this clone (for ``environment`` only, if given), oldest first."""
    from envtrail.ops.audit import require_environment

    if environment is not None:
        check_env_name(environment)  # before any proposal is read (review15 B9)
    view, head = StoreView(git), git.store_head()
    ids = proposal_ids(git)
    if environment is not None:
        # Only the proposals it names are judged in full (review15 S6), from their records.
        named = {pid: proposal_root(git, pid)[3].environments for pid in ids}
        # As `log --env` judges it, and a proposal may name one the line has not yet.
        require_environment(view, head, environment,
                            frozenset(e for envs in named.values() for e in envs))
        ids = [pid for pid in ids if environment in named[pid]]
    found = [load(git, view, pid, head) for pid in ids]
    # Those on the head are judged, without a key as the list is read (what only a key can
    # check, approve checks), with the pairs used up to the head read once for them all
    # (from the line where the checkpoint does not stand there: a line with findings).
    keys = None
    if head is not None and any(not p.stale for p in found):
        keys = checkpoint.keys_at(git.root, head)
        if keys is None:  # where the line cannot be read, each walk says so as its finding
            with contextlib.suppress(IntegrityError):
                keys = keys_until(view, head)
    found = [with_findings(view, p, Keyring(None), rt.now(), keys) for p in found]
    return sorted(found, key=lambda p: git.info(p.commit).committer_time)


def is_repair(git: GitRepo, proposal_id: str) -> bool:
    """Whether the proposal is a proposed ``repair``, which is approved, applied and
    withdrawn on a line with findings: that is what it is for (the findings it does not
    acknowledge keep reads refused). Read from the proposal commit's record alone
    (review15 S6): ``load`` judges it in full once the line is open."""
    return proposal_root(git, proposal_id)[3].action == "repair"
