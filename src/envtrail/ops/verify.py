"""``verify``: walk the whole store line, report every finding, pin and checkpoint a clean one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from envtrail.audit import checkpoint, eventline, line
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import Acknowledged, LineReport, Swept, Trust
from envtrail.audit.verify import Finding, custody_changes
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.gate import lifts, record_verified, rewritten
from envtrail.ops.trust import require_root_in_ci, trust_roots
from envtrail.ops.verifiedline import seat_at_head
from envtrail.runtime import Runtime


@dataclass
class Report:
    """The outcome of ``verify``."""

    head: str | None
    genesis: str | None = None
    pin: str | None = None
    pinned_now: bool = False
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    swept: list[Swept] = field(default_factory=list)  # honest commits a repair undid
    skipped: list[str] = field(default_factory=list)  # environments checked without a key
    # Where this reader's key opens the head: only commits from before it was sealed to
    # them went unchecked (not in ``skipped``).
    skipped_before_seat: list[str] = field(default_factory=list)
    disappeared: list[str] = field(default_factory=list)  # --accept-rewrite: commits gone
    other_genesis: str | None = None  # --accept-rewrite --force: the genesis given up
    warnings: list[str] = field(default_factory=list)  # unreviewed break-glass changes
    # A finding an earlier walk in this clone made with a key this one lacks: it stands.
    refused: str | None = None
    refused_envs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No unacknowledged finding, and no earlier one this walk could not check again."""
        return not self.findings and self.refused is None

    def passes(self, strict: bool) -> bool:
        """ok, and under ``--strict`` no acknowledged finding or warning either."""
        return self.ok and not (strict and (self.acknowledged or self.swept or self.warnings))

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"ok": self.ok, "head": self.head, "genesis": self.genesis, "pin": self.pin,
                "commits": self.checked, "findings": [f.as_dict() for f in self.findings],
                "acknowledged": [a.as_dict() for a in self.acknowledged],
                "swept": [s.as_dict() for s in self.swept],
                "skipped_without_key": self.skipped,
                "skipped_before_seat": self.skipped_before_seat, "disappeared": self.disappeared,
                "replaced_genesis": self.other_genesis, "refused": self.refused,
                "refused_needs_key_to": self.refused_envs,
                "warnings": self.warnings}


def verify(git: GitRepo, rt: Runtime, identity: Identity | None = None, *,
           trust_root: str | None = None, accept_rewrite: bool = False, force: bool = False,
           progress: Callable[[int], None] | None = None) -> Report:
    """Check the whole line from the genesis; advance the checkpoint if it is clean.

    With ``accept_rewrite``, a line that no longer holds this clone's verified
    head is accepted (and re-pinned) once it verifies on its own; the commits
    that disappeared are listed. A new line with another genesis, or a lost
    commit that changed signers, policy, config, members or keys (judged by its
    tree, whatever its action says) or was a repair, needs ``force``.

    In a detected CI a trust root is required (exit 5 without one): a job's
    fresh clone would otherwise vouch for, and pin, whatever line it was given.
    """
    head = git.store_head()
    report = Report(head, pin=checkpoint.load_pin(git.root))
    if head is None:
        return report
    roots = trust_roots(rt, trust_root)
    require_root_in_ci(rt, roots, "verify needs")
    cp = checkpoint.load(git.root)
    rewrite = cp is not None and not git.first_parents(head, cp.head)[1]
    view = StoreView(git)
    if accept_rewrite:
        if not rewrite or cp is None:
            raise UsageError("nothing to accept: the store line still holds the verified head")
        # Both lines are first parents only: a merge that reaches the old line through a
        # second parent holds none of it, whatever git's ancestry says.
        old_line, new_line = _line(git, cp.head), _line(git, head)
        kept = set(new_line)
        report.disappeared = [c for c in old_line if c not in kept] if old_line and new_line \
            else [cp.head]
        trusted = report.pin or (old_line[-1] if old_line else None)
        if trusted is None or not new_line or new_line[-1] != trusted:
            report.other_genesis = trusted or "(unknown)"
        if not force:
            _refuse_guarded(view, report)
    elif rewrite and cp is not None:
        report.findings.append(rewritten(cp.head))
    pin = None if accept_rewrite else report.pin
    walked = line.walk(view, head, keyring=Keyring(identity), trust=Trust(pin, roots),
                       now=rt.now(), seen_ahead=checkpoint.load_ahead(git.root),
                       workers=rt.cpus, on_commit=progress)
    if walked.ahead:
        checkpoint.save_ahead(git.root, {**checkpoint.load_ahead(git.root), **walked.ahead})
    report.genesis, report.checked = walked.genesis, walked.checked
    report.findings += walked.findings
    if cp is not None and not rewrite:
        cp = _mark_refused(git, view, head, cp, walked)
    # A rewrite is accepted on the store line alone (attack29 R1): an event naming a
    # commit it dropped stays the events line's finding, which never gates reads.
    line_ok = report.ok
    # A repair at or after a finding still standing on the store line settles nothing.
    pending = {f.commit for f in walked.findings}
    first = next((i for i, c in enumerate(walked.walked) if c in pending), len(walked.walked))
    judged = eventline.judge(view, head, line=walked.walked, times=walked.times,
                             tainted=frozenset(walked.tainted), now=rt.now(),
                             distrusted=frozenset(walked.walked[first:]), listed=True,
                             repairs=walked.event_repairs)
    events = judged.findings
    # An event recorded on a state later repaired (a keyless clone's deploy after a lie
    # only a key sees) is history, not a forgery: a warning, as acknowledged findings are
    # (--strict fails on it), never a finding no repair could settle.
    after_repaired = [f for f in events if f.message == eventline.AFTER_REPAIRED]
    report.findings += [f for f in events if f not in after_repaired]
    events_head = git.ref_target(eventline.EVENTS_REF)
    if report.ok and events_head is not None and not after_repaired:
        checkpoint.save_events(git.root, head, events_head)  # log need not judge it again
    report.acknowledged = walked.acknowledged + walked.unseen + judged.acknowledged
    report.swept = walked.swept
    # A member's key opens only what was sealed to it: what came before is apart, never
    # "without a key" (ops.verifiedline.seat_at_head answers who holds one now).
    report.skipped_before_seat = [e for e in sorted(walked.unkeyed)
                                  if seat_at_head(git, identity, e) == "opens"]
    report.skipped = [e for e in sorted(walked.unkeyed) if e not in report.skipped_before_seat]
    report.warnings = [g.warning(rt.now()) for g in walked.glass] + [
        f"event {f.commit[:10]} {f.message}: not judged" for f in after_repaired]
    if cp is not None and cp.refused is not None and not rewrite and not walked.findings \
            and not lifts(cp, walked, full=True):
        # This walk could not see it (no key to where it was found): it still stands.
        report.refused = cp.refused
        report.refused_envs = sorted(cp.refused_envs)
    accepted = accept_rewrite and line_ok
    if (report.ok or accepted) and walked.genesis and (pin is None or accept_rewrite):
        checkpoint.save_pin(git.root, walked.genesis)
        report.pin, report.pinned_now = walked.genesis, True
    if report.ok or accepted:
        if accept_rewrite:
            from envtrail.gitstore.remote import forget_seen

            checkpoint.clear(git.root)
            forget_seen(git.root)  # sync would otherwise keep refusing the rewritten remote
        key = identity.public.openssh if identity is not None else None
        saved = record_verified(git, view, head, walked, None if accept_rewrite else cp, key,
                                roots, full=True)
        if accept_rewrite and cp is not None and cp.refused is not None \
                and not lifts(cp, walked, full=True):
            _carry_refused(git, saved, cp, report)
    return report


def _carry_refused(git: GitRepo, saved: checkpoint.Checkpoint, old: checkpoint.Checkpoint,
                   report: Report) -> None:
    """Keep the old line's mark on the accepted one: the rewrite is accepted, but a walk
    without a key to where the mark was found cannot tell whether the lie was only re-made,
    so reads keep refusing until a walk that can see it passes (or repairs acknowledge it)."""
    checkpoint.save(git.root, replace(saved, refused=old.refused,
                                      refused_commits=old.refused_commits,
                                      refused_envs=old.refused_envs))
    report.refused, report.refused_envs = old.refused, sorted(old.refused_envs)


def _mark_refused(git: GitRepo, view: StoreView, head: str, cp: checkpoint.Checkpoint,
                  walked: LineReport) -> checkpoint.Checkpoint:
    """A finding on the line stops reads trusting the checkpoint, whether a lighter check
    already let it through (below its head) or an incremental keyless one would (above).
    The mark remembers which environments this walk checked with a key: a walk without
    such a key cannot see a lying fingerprint, so it never lifts the mark. A mark that
    already stands is widened, never kept as it was: a keyless walk may have set it, and a
    repair of only what that walk saw must not lift what a later key found."""
    if not walked.findings:
        return cp
    commits = frozenset(f.commit for f in walked.findings) | cp.refused_commits
    envs = (frozenset(view.env_blobs(head)) - walked.unkeyed) | cp.refused_envs
    if cp.refused is not None and commits == cp.refused_commits and envs == cp.refused_envs:
        return cp
    marked = replace(cp, refused=cp.refused or walked.findings[0].line(),
                     refused_commits=commits, refused_envs=envs)
    checkpoint.save(git.root, marked)
    return marked


def _refuse_guarded(view: StoreView, report: Report) -> None:
    """Refuse (exit 5) a rewrite that changes the root of trust or loses a security
    decision: what only ``--force`` accepts, after review."""
    if report.other_genesis:
        raise IntegrityError("the rewritten line has another genesis (not "
                             f"{report.other_genesis[:12]}, the one this clone trusted): it is "
                             "a different store, with its own signers and admins",
                             hint="compare the new genesis with the id `envtrail init` printed; "
                                  "`--accept-rewrite --force` re-pins to it anyway")
    guarded = [(c, why) for c in report.disappeared if (why := _decision(view, c))]
    if guarded:
        commit, why = guarded[0]
        raise IntegrityError(f"the rewrite drops {len(guarded)} commit(s) that changed who is "
                             f"trusted or what was repaired, e.g. {commit[:10]} ({why})",
                             hint="review them; `--accept-rewrite --force` accepts anyway")


def _decision(view: StoreView, commit: str) -> str | None:
    """What security decision a lost commit made, judged by its tree (a label is the
    author's claim: a grant or an admin added could be labelled ``set``)."""
    try:
        info = view.git.info(commit)
        changed = custody_changes(view, info.parents[0] if info.parents else None, commit)
        rec = parse_record(info)
    except (KeyError, IntegrityError):
        return "unreadable here, so it cannot be judged"
    if changed:  # the label is shown for the reviewer, never trusted
        return f"{rec.action if rec else 'unlabelled'}: changed {', '.join(changed)}"
    # Its acknowledgements are in the record, not the tree: losing it brings back (or
    # hides) what it settled. The label can only add a guard here, never remove one.
    return "a repair" if rec is not None and rec.action == "repair" else None


def _line(git: GitRepo, head: str) -> list[str]:
    """The first-parent ids from ``head`` to its root, newest first (empty: a commit on
    the way cannot be read here)."""
    try:
        return git.first_parents(head)[0]
    except KeyError:
        return []

