"""The audit commands: verify, verified reads, log, show, diff, blame."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from envtrail.audit import checkpoint, signature
from envtrail.audit.acknowledgements import Acknowledgement, Marks, marks
from envtrail.audit.credit import Credits
from envtrail.audit.events import (
    Event,
    Filters,
    VerifiedLine,
    approvals_of,
    commit_events,
    stream,
)
from envtrail.audit.history import last_changes, parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import Acknowledged, Swept
from envtrail.audit.record import Record
from envtrail.audit.timeline import interleave
from envtrail.audit.verify import Finding, Verifier
from envtrail.audit.view import StoreView, value_diff
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError
from envtrail.errors import IntegrityError, NotFoundError
from envtrail.format import layout
from envtrail.gitstore.repo import CommitInfo, GitRepo
from envtrail.model import Secret, check_env_name
from envtrail.ops.gate import open_line, rewritten
from envtrail.ops.members import open_keys
from envtrail.ops.routing import proposal_tips
from envtrail.ops.suggest import did_you_mean
from envtrail.ops.trust import trust_roots
from envtrail.runtime import Runtime

# -- log and show ------------------------------------------------------------


def log(git: GitRepo, filters: Filters, limit: int | None = None,
        after: str | None = None) -> Iterator[Event]:
    """The audit trail, newest first, from at most ``limit`` commits (no key needed).

    ``after``: only commits newer than that revision (for shipping new
    records somewhere). A filter that names an environment, variable or
    actor that never existed is NotFoundError, with the closest real name.
    """
    view = StoreView(git)
    head = git.store_head()
    if filters.environment is not None:
        require_environment(view, head, filters.environment)
    hide = git.resolve(after) if after is not None else None
    # A commit's events come out together, so counting commit boundaries is
    # enough: no set of every commit seen, memory stays flat.
    seen, last = 0, None
    # Unfiltered below: approvals must be seen to be attached to what they approve.
    verified = _verified_line(git)
    changes = stream(view, head, Filters(until=filters.until), hide, verified)
    tainted = verified.tainted if verified is not None else frozenset()
    vouched = checkpoint.load_events(git.root, head)
    # DESIGN: log always shows an acknowledged finding with its admin and reason, and
    # so a commit a repair swept (its values undone: a decision on record too).
    said = marks(view, verified.head, tainted) if verified is not None else Marks({}, {})
    for event in interleave(view, changes, filters, hide, tainted, vouched):
        if event.commit != last:
            if limit is not None and seen >= limit:
                return
            seen, last = seen + 1, event.commit
        yield _marked(event, said)
    if seen == 0 and (filters.key is not None or filters.actor is not None):
        _require_known(view, head, filters)


def _marked(event: Event, said: Marks) -> Event:
    """``event`` with what a repair said of its commit: acknowledged, or swept."""
    ack, swept = said.acknowledged.get(event.commit), said.swept.get(event.commit)
    return replace(event, acknowledged=ack, swept=swept) if ack or swept else event


def _verified_line(git: GitRepo) -> VerifiedLine | None:
    """What this clone last verified, so that ``log`` need not check those signatures again."""
    cp = checkpoint.load(git.root)
    return None if cp is None else VerifiedLine(cp.head, cp.tainted)


def require_environment(view: StoreView, head: str | None, environment: str,
                        also: frozenset[str] = frozenset()) -> None:
    """What an ``--env`` filter asks of its name: UsageError (exit 2) for a bad one,
    NotFoundError (exit 3, with the closest name) for one that is neither at ``head``,
    nor in ``also``, nor in any change of the history (an environment gone from the head
    still has a history to show)."""
    check_env_name(environment)
    if environment not in also and environment not in view.env_blobs(head):
        _require_known(view, head, Filters(environment=environment))


def _require_known(view: StoreView, head: str | None, filters: Filters) -> None:
    """NotFoundError if a filter names something the whole history never had."""
    envs: set[str] = set()
    keys: set[str] = set()
    actors: set[str] = set()
    for e in stream(view, head, Filters()):
        envs.update(e.environments)
        if e.key:
            keys.add(e.key)
        if e.actor:
            actors.add(e.actor)
    if filters.environment is not None and filters.environment not in envs:
        raise NotFoundError(f"no environment {filters.environment!r}"
                            + did_you_mean(filters.environment, envs),
                            hint="list them with `envtrail env list`")
    if filters.key is not None and filters.key not in keys:
        raise NotFoundError(f"no variable {filters.key!r} in any change"
                            + did_you_mean(filters.key, keys))
    if filters.actor is not None and filters.actor not in actors:
        raise NotFoundError(f"no change by {filters.actor!r}" + did_you_mean(filters.actor, actors))


@dataclass(frozen=True)
class Shown:
    """One commit in full."""

    info: CommitInfo
    record: Record | None
    verdict: signature.Verdict
    events: list[Event]
    findings: list[Finding]
    store_diff: tuple[str, ...] = ()  # policy and signer lines added (+) and removed (-)
    approved_by: tuple[str, ...] = ()  # approvals of it on the store line
    judged: str = "line"  # "line", "events" (judged as events are) or "commit" (alone)
    acknowledged: tuple[Acknowledged, ...] = ()  # its findings a repair accepted
    swept: tuple[Swept, ...] = ()  # a repair that undid this honest commit's changes


def show(git: GitRepo, rt: Runtime, rev: str) -> Shown:
    """Who, what, when, where, why and the verify findings of one commit.

    A commit of the store line is judged as ``verify`` judges it (keyless): within
    the whole line, so approvals that should follow it, times and repairs count; an
    event as the events line is judged; any other commit by its signature and tree.
    """
    from envtrail.audit import eventline, line

    commit = git.resolve(rev)  # any commit: show is how a forged one is examined
    view = StoreView(git)
    info = git.info(commit)
    head = git.store_head()
    judged = _where(git, head, commit)
    verdict = signature.shown(view, info)
    acknowledged: tuple[Acknowledged, ...] = ()
    swept: tuple[Swept, ...] = ()
    if judged == "commit" or head is None:
        findings = Verifier(view).check(info)
    else:
        walked = line.walk(view, head, now=rt.now(), workers=rt.cpus,
                           seen_ahead=checkpoint.load_ahead(git.root),
                           trust=line.Trust(checkpoint.load_pin(git.root), trust_roots(rt)))
        # What is wrong with the line as a whole (another genesis, a missing trust
        # root, a rewrite of what this clone verified) is wrong with each commit on it.
        whole = [f for f in walked.findings if f.rule == 8]
        cp = checkpoint.load(git.root)
        if cp is not None and cp.head != head and not git.first_parents(head, cp.head)[1]:
            whole.append(rewritten(cp.head))
        if judged == "line":
            findings = [f for f in walked.findings if f.commit == commit] + \
                [f for f in whole if f.commit != commit]
            acknowledged = tuple(a for a in walked.acknowledged + walked.unseen
                                 if a.finding.commit == commit)
            swept = tuple(w for w in walked.swept if w.commit == commit)
        else:
            findings = [f for f in eventline.check(view, head, line=walked.walked,
                                                   times=walked.times,
                                                   tainted=frozenset(walked.tainted),
                                                   now=rt.now()) if f.commit == commit] + whole
            verdict = eventline.signature_of(view, info, walked.walked)
    return Shown(info, parse_record(info), verdict, commit_events(view, info), findings,
                 store_file_diff(git, info), tuple(approvals_of(view, commit, head)), judged,
                 acknowledged, swept)


def _where(git: GitRepo, head: str | None, commit: str) -> str:
    """Which line ``commit`` is on: the store line, the events line, or neither."""
    from envtrail.audit.eventline import EVENTS_REF

    if head is not None and (commit == head or git.first_parents(head, commit)[1]):
        return "line"
    tip = git.ref_target(EVENTS_REF)
    if tip is not None and (commit == tip or git.first_parents(tip, commit)[1]):
        return "events"
    return "commit"


def store_file_diff(git: GitRepo, info: CommitInfo) -> tuple[str, ...]:
    """What a commit changed in policy.yaml and allowed_signers, as +/- lines.

    These files hold no secrets, so their lines are shown as they are.
    """
    import difflib

    parent = info.parents[0] if info.parents else None
    out: list[str] = []
    for path in (layout.POLICY, layout.SIGNERS):
        old, new = _file_text(git, parent, path), _file_text(git, info.id, path)
        if old == new:
            continue
        a = (old or b"").decode("utf-8", "replace").splitlines()
        b = (new or b"").decode("utf-8", "replace").splitlines()
        out.append(path)
        out.extend(line for line in difflib.unified_diff(a, b, lineterm="", n=0)
                   if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return tuple(out)


def _file_text(git: GitRepo, commit: str | None, path: str) -> bytes | None:
    """A settings file's bytes; what stands there instead of a file, said in words."""
    try:
        return git.read(commit, path)
    except IntegrityError as exc:  # a folder or submodule a forged commit put there
        return f"({exc.message})".encode()


# -- diff and blame ----------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One variable that differs between two points."""

    key: str
    change: str
    old_fp: str | None = None
    new_fp: str | None = None
    old: Secret | None = None
    new: Secret | None = None

    def as_dict(self, reveal: bool = False) -> dict[str, object]:
        """The JSON form; plaintext only with ``reveal``."""
        d: dict[str, object] = {"key": self.key, "change": self.change,
                                "old_fp": self.old_fp, "new_fp": self.new_fp}
        if reveal:
            d["old"] = self.old.reveal() if self.old else None
            d["new"] = self.new.reveal() if self.new else None
        return d


def diff(git: GitRepo, rt: Runtime, identity: Identity | None, environment: str,
         old_rev: str, new_rev: str | None, reveal: bool) -> list[DiffRow]:
    """Masked (or, with ``reveal``, decrypted) differences of one environment."""
    check_env_name(environment)
    line = open_line(git, rt, identity)
    old_c, new_c = line.resolve(rt, old_rev), line.resolve(rt, new_rev)
    view = line.view
    old, new = view.env_at(old_c, environment), view.env_at(new_c, environment)
    if old is None and new is None:
        raise NotFoundError(f"no environment {environment!r} at either point")
    keyring = Keyring(identity)
    if reveal:
        for env in (old, new):
            if env is not None and identity is not None:
                open_keys(env, identity)  # AccessDenied for a non-member, before anything prints
    rows = []
    for key, op in sorted(value_diff(old, new).items()):
        try:
            old_plain = keyring.plaintext(old, key) if op != "+" else None
            new_plain = keyring.plaintext(new, key) if op != "-" else None
        except (DecryptError, ValueError) as exc:
            raise IntegrityError(f"{environment}: {exc}") from None
        if op == "~" and old_plain is not None and old_plain == new_plain:
            continue  # re-encrypted (e.g. by a rotation) but the value is the same
        rows.append(DiffRow(
            key, op,
            keyring.fingerprint(old, key) if op != "+" else None,
            keyring.fingerprint(new, key) if op != "-" else None,
            Secret(old_plain) if reveal and old_plain is not None else None,
            Secret(new_plain) if reveal and new_plain is not None else None,
        ))
    return rows


@dataclass(frozen=True)
class BlameRow:
    """The last change of one variable."""

    key: str
    commit: str
    time: str
    actor: str | None
    action: str
    reason: str
    fingerprint_checked: bool | None = None  # None: no change to check (see HistoryRow)
    verified: bool = True  # ``actor`` signed it; else only the record claims so
    acknowledged: Acknowledgement | None = None  # a repair acknowledged it as a finding

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        d = {k: v for k, v in self.__dict__.items() if k != "acknowledged"}
        d["acknowledged"] = self.acknowledged.as_dict() if self.acknowledged else None
        return d


def blame(git: GitRepo, rt: Runtime, environment: str,
          identity: Identity | None = None) -> list[BlameRow]:
    """Per variable at the verified line head: who changed it last, when, why.

    ``identity`` (whenever the reader has one) checks with its key what is new on the
    line, so a change whose fingerprints lie is refused (exit 5) as ``get`` refuses it.
    """
    check_env_name(environment)
    line = open_line(git, rt, identity)
    head = line.head
    if head is None:
        raise NotFoundError("the store has no commits yet")
    env = StoreView(git).env_at(head, environment)
    if env is None:
        raise NotFoundError(f"no environment {environment!r}")
    last = last_changes(git, head, environment)
    credits = Credits(line.view, head, line.tainted)
    rows = []
    for key in sorted(env.values):
        ch = last.get(key)
        if ch is None:
            rows.append(BlameRow(key, "-", "-", None, "-", ""))
            continue
        rec = ch.record
        credit = credits.of(ch.commit, rec)
        rows.append(BlameRow(key, ch.commit.id, ch.commit.committer_time.isoformat(),
                             credit.actor, rec.action if rec else "unattested",
                             rec.reason if rec else ch.commit.message.split("\n", 1)[0],
                             credit.finding is None and
                             line.key_checked(identity, environment, ch.commit),
                             credit.verified, credit.finding))
    return rows


# -- access --------------------------------------------------------------------


def access_now(git: GitRepo, rt: Runtime, environment: str | None,
               identity: Identity | None = None) -> tuple[list[dict], list[dict]]:
    """Members of each environment at the verified line head, and the allowed signers
    (the line walked with ``identity``'s key where one is at hand, as every read)."""
    from envtrail.crypto.keys import PublicKey

    line = open_line(git, rt, identity)
    view, head = line.view, line.head
    blobs = view.env_blobs(head)
    if environment is not None and check_env_name(environment) not in blobs:
        raise NotFoundError(f"no environment {environment!r}" + did_you_mean(environment, blobs))
    members = []
    for env in sorted(blobs):
        if environment in (None, env):
            for principal, m in sorted(view.env_file(blobs[env], env).members.items()):
                members.append({"environment": env, "principal": principal,
                                "key": PublicKey.parse(m.key)[0].fingerprint()})
    signers = [{"principal": s.principal, "admin": s.admin, "key": s.key,
                "valid_after": s.valid_after.isoformat() if s.valid_after else None,
                "valid_before": s.valid_before.isoformat() if s.valid_before else None}
               for s in view.signers(head)]
    return members, signers


def access_history(git: GitRepo, rt: Runtime, environment: str | None,
                   identity: Identity | None = None) -> list:
    """Membership periods (audit.membership.Period), optionally of one environment."""
    from envtrail.audit.membership import periods

    if environment is not None:
        check_env_name(environment)
    line = open_line(git, rt, identity)
    if environment is not None:
        require_environment(line.view, line.head, environment)
    return [p for p in periods(line.view, line.head, line.tainted)
            if environment in (None, p.environment)]


def offboarding(git: GitRepo, rt: Runtime, principal: str,
                identity: Identity | None = None) -> list:
    """What ``principal`` could ever read (audit.membership.Exposure per environment),
    on the line and in every proposal this clone has: its own and those it last saw on
    a remote (pushed, perhaps withdrawn there since), whose values were just as readable."""
    from envtrail.audit.membership import exposure

    line = open_line(git, rt, identity)
    return exposure(line.view, line.head, principal, proposal_tips(git))
