"""``verify``: walk the whole store line, report every finding, pin and checkpoint a clean one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from envtrail.audit import checkpoint, eventline, line
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import Acknowledged, LineReport, Trust
from envtrail.audit.verify import Finding
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.gate import record_verified, rewritten
from envtrail.ops.trust import trust_roots
from envtrail.runtime import Runtime

# A rewrite that drops one of these loses a security decision: never accepted lightly.
_GUARDED = frozenset({"revoke", "rotate", "signers", "policy", "repair"})


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
    skipped: list[str] = field(default_factory=list)  # environments checked without a key
    disappeared: list[str] = field(default_factory=list)  # --accept-rewrite: commits gone
    warnings: list[str] = field(default_factory=list)  # unreviewed break-glass changes

    @property
    def ok(self) -> bool:
        """No unacknowledged finding."""
        return not self.findings

    def passes(self, strict: bool) -> bool:
        """ok, and under ``--strict`` no acknowledged finding or warning either."""
        return self.ok and not (strict and (self.acknowledged or self.warnings))

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"ok": self.ok, "head": self.head, "genesis": self.genesis, "pin": self.pin,
                "commits": self.checked, "findings": [f.as_dict() for f in self.findings],
                "acknowledged": [a.as_dict() for a in self.acknowledged],
                "skipped_without_key": self.skipped, "disappeared": self.disappeared,
                "warnings": self.warnings}


def verify(git: GitRepo, rt: Runtime, identity: Identity | None = None, *,
           trust_root: str | None = None, accept_rewrite: bool = False, force: bool = False,
           progress: Callable[[int], None] | None = None) -> Report:
    """Check the whole line from the genesis; advance the checkpoint if it is clean.

    With ``accept_rewrite``, a line that no longer holds this clone's verified
    head is accepted (and re-pinned) once it verifies on its own; the commits
    that disappeared are listed, and a lost revoke, rotate, signers, policy or
    repair commit needs ``force``.
    """
    head = git.store_head()
    report = Report(head, pin=checkpoint.load_pin(git.root))
    if head is None:
        return report
    roots = trust_roots(rt, trust_root)
    cp = checkpoint.load(git.root)
    rewrite = cp is not None and not git.first_parents(head, cp.head)[1]
    if accept_rewrite:
        if not rewrite or cp is None:
            raise UsageError("nothing to accept: the store line still holds the verified head")
        report.disappeared = _disappeared(git, cp.head, head)
        guarded = [c for c in report.disappeared if _action(git, c) in _GUARDED]
        if guarded and not force:
            raise IntegrityError(f"the rewrite drops {len(guarded)} revoke/rotate/signers/policy/"
                                 f"repair commit(s), e.g. {guarded[0][:10]}",
                                 hint="review them; `--accept-rewrite --force` accepts anyway")
    elif rewrite and cp is not None:
        report.findings.append(rewritten(cp.head))
    view = StoreView(git)
    pin = None if accept_rewrite else report.pin
    walked = line.walk(view, head, keyring=Keyring(identity), trust=Trust(pin, roots),
                       now=rt.now(), seen_ahead=checkpoint.load_ahead(git.root),
                       parallel=True, on_commit=progress)
    if walked.ahead:
        checkpoint.save_ahead(git.root, {**checkpoint.load_ahead(git.root), **walked.ahead})
    report.genesis, report.checked = walked.genesis, walked.checked
    report.findings += walked.findings
    if cp is not None and not rewrite:
        _refuse_below(git, cp, walked)
    events = eventline.check(view, head, line=walked.walked, tainted=frozenset(walked.tainted),
                             now=rt.now())
    report.findings += events
    events_head = git.ref_target(eventline.EVENTS_REF)
    if report.ok and events_head is not None:
        checkpoint.save_events(git.root, head, events_head)  # log need not judge it again
    report.acknowledged = walked.acknowledged
    report.skipped = sorted(walked.unkeyed)
    report.warnings = [g.warning(rt.now()) for g in walked.glass]
    if report.ok and walked.genesis and (pin is None or accept_rewrite):
        checkpoint.save_pin(git.root, walked.genesis)
        report.pin, report.pinned_now = walked.genesis, True
    if report.ok:
        if accept_rewrite:
            from envtrail.gitstore.remote import forget_seen

            checkpoint.clear(git.root)
            forget_seen(git.root)  # sync would otherwise keep refusing the rewritten remote
        key = identity.public.openssh if identity is not None else None
        record_verified(git, view, head, walked, None if accept_rewrite else cp, key, roots,
                        full=True)
    return report


def _refuse_below(git: GitRepo, cp: checkpoint.Checkpoint, walked: LineReport) -> None:
    """A finding at or below the checkpoint's head (something a lighter, incremental
    check let through) stops reads trusting the checkpoint until a whole walk passes."""
    vouched = set(walked.walked[:walked.walked.index(cp.head) + 1]) \
        if cp.head in walked.walked else set()
    below = [f for f in walked.findings if f.commit in vouched]
    if below and cp.refused is None:
        checkpoint.save(git.root, replace(cp, refused=below[0].line()))


def _disappeared(git: GitRepo, old: str, new: str) -> list[str]:
    """Commits of the old line (newest first) that the new line no longer holds."""
    try:
        ids, _ = git.first_parents(old)
    except KeyError:
        return [old]
    return [c for c in ids if not git.is_ancestor(c, new)]


def _action(git: GitRepo, commit: str) -> str | None:
    try:
        rec = parse_record(git.info(commit))
    except KeyError:
        return None
    return rec.action if rec else None
