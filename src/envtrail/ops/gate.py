"""The one verified gate: every command that uses a value or the store's state asks here.

It returns the state of the store line after checking, incrementally from
this clone's checkpoint, everything that is new: with the reader's key where
it has one (a keyed reader re-checks once what was only checked without a
key). The checkpoint never moves past a commit with an unacknowledged
finding, so once a check fails every read keeps failing (exit 5) until a
``repair``. The genesis is pinned on first use; ``ENVTRAIL_TRUST_ROOT`` names
a commit the line must contain, and in a detected CI it is required. What a
command then asks of the line it gets is :mod:`envtrail.ops.verifiedline`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from envtrail.audit import checkpoint
from envtrail.audit.checkpoint import Checkpoint
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.trust import require_root_in_ci, trust_roots
from envtrail.ops.verifiedline import Line
from envtrail.runtime import Runtime

if TYPE_CHECKING:  # the walk is imported only when there is something new to check
    from envtrail.audit.line import LineReport
    from envtrail.audit.verify import Finding


def open_line(git: GitRepo, rt: Runtime, identity: Identity | None = None, *,
              verify: bool = True, trust_root: str | None = None,
              allow_findings: bool = False) -> Line:
    """The verified line, checked from this clone's checkpoint with ``identity``'s key.

    IntegrityError (exit 5) names the first unacknowledged finding, unless
    ``allow_findings`` (``repair`` needs to see them). ``verify=False`` is
    ``--no-verify``: the head as it is, with a loud warning.
    """
    _finish_interrupted_write(git)
    view = StoreView(git)
    head = git.store_head()
    if not verify:
        return Line(git, view, head, warnings=(
            "reading WITHOUT verifying the history (--no-verify): the values may be forged",),
            verified=False)
    roots = trust_roots(rt, trust_root)
    if head is None:
        return Line(git, view, None)
    require_root_in_ci(rt, roots, "reads need")
    cp = checkpoint.load(git.root)
    if _rewound(git, head, cp):
        # A sync replaying this clone's commits moves the branch and then the checkpoint,
        # under the write lock: a reader that looked in between waits, and looks again.
        _wait_for_writers(git)
        head, cp = git.store_head(), checkpoint.load(git.root)
        if head is None:
            return Line(git, view, None)
        if _rewound(git, head, cp):
            # Most often a plain `git pull --rebase` here, which re-made this clone's
            # commits unsigned: the way back is the verified head, still in this clone.
            back = f"if a plain `git rebase` or `git pull --rebase` did it here, run " \
                   f"`git reset --keep {cp.head[:12]}` and `envtrail sync`; otherwise " \
                if git.has_commit(cp.head) else ""
            raise IntegrityError(f"history does not verify: {rewritten(cp.head).line()}",
                                 hint=f"{back}run `envtrail verify`; after reviewing, "
                                      "`envtrail verify --accept-rewrite`")
    key = identity.public.openssh if identity is not None else None
    since = cp.head if cp is not None else None
    if cp is not None and cp.refused is not None:
        if not allow_findings and not _may_lift(view, head, identity, cp):
            _refuse_marked(cp)
        since = None  # verify found a problem on this line: only a whole walk decides
    elif cp is not None and key is not None and key not in cp.attempted and \
            checkpoint.opens_unkeyed(cp, key, view.env_blobs(head),
                                     lambda name: view.env_at(head, name), unreadable=False):
        # This key re-checks the whole line once. A committed file at the head that does
        # not parse holds no seat to check with, and needs no whole walk to be caught: a
        # verified head parsed, and a new one is read by the walk below, which refuses
        # it (unreadable=False).
        since = None
    if cp is not None and since == head and roots <= cp.roots:
        return Line(git, view, head, floor=_time(cp.floor), tainted=cp.tainted, keyed=cp.keyed)
    if git.is_shallow():
        from envtrail.gitstore.remote import unshallow

        if unshallow(git.root):  # what is still missing afterwards is refused by the walk
            git.reopen()  # libgit2 keeps the cut-off parents it read at open time
            view = StoreView(git)
    from envtrail.audit import line
    from envtrail.audit.keyring import Keyring

    pin = checkpoint.load_pin(git.root)
    report = line.walk(view, head, keyring=Keyring(identity), since=since,
                       floor=_time(cp.floor) if since is not None and cp else None,
                       trust=line.Trust(pin, roots), now=rt.now(),
                       seen_ahead=checkpoint.load_ahead(git.root),
                       tainted=cp.tainted if cp is not None and since is not None else frozenset(),
                       keys=cp.keys if cp is not None and since is not None else frozenset())
    if line.reaches_back(view, report):
        since = None
        report = line.walk(view, head, keyring=Keyring(identity), trust=line.Trust(pin, roots),
                           now=rt.now(), seen_ahead=checkpoint.load_ahead(git.root))
    if report.ahead:
        checkpoint.save_ahead(git.root, {**checkpoint.load_ahead(git.root), **report.ahead})
    if report.findings:
        if not allow_findings:
            _refuse(report.findings[0])
        return Line(git, view, head, report.checked, report.floor, (), True, report,
                    frozenset(report.tainted | set(cp.tainted if cp else ())))
    warnings: list[str] = []
    if pin is None and report.genesis is not None:
        # Only a line that verifies is pinned: a first use never trusts a broken one.
        checkpoint.save_pin(git.root, report.genesis)
        warnings.append(f"pinned this store's genesis {report.genesis} (first use); "
                        "compare it with the id `envtrail init` printed")
    saved = record_verified(git, view, head, report, cp, key, roots, full=since is None)
    if saved.refused is not None and not allow_findings:
        _refuse_marked(saved)  # this walk could not see what the mark is about
    return Line(git, view, head, report.checked, report.floor, tuple(warnings), True, report,
                saved.tainted, saved.keyed)


def record_verified(git: GitRepo, view: StoreView, head: str, report: LineReport,
                    cp: Checkpoint | None, key: str | None, roots: frozenset[str],
                    full: bool) -> Checkpoint:
    """Move the checkpoint to a clean ``head`` (never past an unacknowledged finding, nor
    while a ``refused`` mark stands that this walk does not lift: it stays as it is)."""
    if cp is not None and cp.refused is not None and not lifts(cp, report, full):
        return cp
    envs = view.env_blobs(head)
    # A key's full re-check counts only until a walk vouches for something without
    # a key: from then on, every key has that new part left to check.
    attempted = set() if report.unkeyed or cp is None else set(cp.attempted)
    if full:
        keyed = set(envs) - report.unkeyed
        attempted |= {key} if key else set()
    else:
        keyed = set(cp.keyed if cp else ()) - report.unkeyed
    floor = int(report.floor.timestamp()) if report.floor else (cp.floor if cp else 0)
    new = Checkpoint(head, envs, frozenset(keyed & set(envs)), frozenset(attempted),
                     frozenset(roots | (cp.roots if cp else frozenset())), floor,
                     frozenset(report.tainted | set(cp.tainted if cp and not full else ())),
                     keys=frozenset(report.keys))
    save(git, new, view)
    return new


def lifts(cp: Checkpoint, report: LineReport, full: bool) -> bool:
    """Whether a clean walk lifts the checkpoint's ``refused`` mark: repairs on the line
    acknowledged findings at every commit the marking walk found one, or the whole line
    was walked with a key to every environment the marking walk checked with one (only
    such a walk could see them again)."""
    if cp.refused_commits and \
            cp.refused_commits <= {a.finding.commit for a in report.acknowledged}:
        return True
    return full and not cp.refused_envs & report.unkeyed


def advance(git: GitRepo, parent: str | None, commit: str, when: datetime) -> None:
    """Vouch for this clone's own new commit on a verified parent (a write just made).

    The parent was verified by the gate before the write, the compare-and-swap
    guarantees nothing came in between, and the commit was built here from
    checked inputs: so the next read takes the fast path. ``verify`` still
    checks every such commit from scratch.
    """
    cp = checkpoint.load(git.root)
    if cp is None or cp.head != parent:
        return
    from envtrail.audit.effect import new_key_pairs

    view = StoreView(git)
    keys = cp.keys | {key for _, key in new_key_pairs(view, parent, commit)}
    save(git, replace(cp, head=commit, envs=view.env_blobs(commit),
                      floor=max(cp.floor, int(when.timestamp())), keys=keys), view)


def save(git: GitRepo, cp: Checkpoint, view: StoreView) -> None:
    """Write the checkpoint, the verified environment files and the signers git checks with."""
    old = checkpoint.load(git.root)
    files = {name: git.blob(blob) for name, blob in cp.envs.items()
             if old is None or old.envs.get(name) != blob
             or checkpoint.cached_file(git.root, name, blob) is None}
    checkpoint.save(git.root, cp, files)
    signers = git.read(cp.head, layout.SIGNERS)
    if signers is not None:
        checkpoint.save_signers(git.root, signers)


def _finish_interrupted_write(git: GitRepo) -> None:
    """Finish a write that a crash interrupted, so reads see a consistent work tree."""
    from envtrail.gitstore.commit import has_journal, recover
    from envtrail.gitstore.discover import lock_path
    from envtrail.gitstore.lock import WriteLock

    if has_journal(git):
        with WriteLock(lock_path(git.root)):
            recover(git)


def _rewound(git: GitRepo, head: str, cp: Checkpoint | None) -> bool:
    """Whether the line no longer holds the head this clone verified."""
    return cp is not None and cp.head != head and not git.first_parents(head, cp.head)[1]


def _wait_for_writers(git: GitRepo) -> None:
    """Wait until no other local envtrail process writes (never for this one's own lock)."""
    from envtrail.gitstore.discover import lock_path
    from envtrail.gitstore.lock import WriteLock

    if WriteLock.held_here():
        return
    try:
        with WriteLock(lock_path(git.root)):
            pass
    except OSError:  # a clone this user may read but not write: nobody writes there either
        return


def rewritten(head: str) -> Finding:
    """The rule 8 finding for a verified head that is no longer on the line."""
    from envtrail.audit.verify import Finding

    return Finding(head, 8, "the last verified head is no longer on the store line "
                            "(history was rewritten, e.g. by a force-push)")


def _may_lift(view: StoreView, head: str, identity: Identity | None, cp: Checkpoint) -> bool:
    """Whether a whole walk by this reader could lift the ``refused`` mark: its key opens
    every environment the mark needs, or the line has moved (a repair may have landed)."""
    if head != cp.head:
        return True
    if identity is None:
        return not cp.refused_envs
    key = identity.public.openssh
    for name in cp.refused_envs:
        try:
            env = view.env_at(head, name)
        except IntegrityError:
            return False
        if env is None or env.member_with_key(key) is None:
            return False
    return True


def _refuse_marked(cp: Checkpoint) -> None:
    who = f"with a key to {', '.join(sorted(cp.refused_envs))} " if cp.refused_envs else ""
    raise IntegrityError(f"history does not verify: {cp.refused}",
                         hint=f"after `envtrail repair`, run `envtrail verify` {who}to lift "
                              "this; --no-verify reads anyway")


def _time(epoch: int) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def _refuse(finding: Finding) -> None:
    raise IntegrityError(f"history does not verify: {finding.line()}",
                         hint="run `envtrail verify` for every finding; an admin settles them "
                              "with `envtrail repair`; --no-verify reads anyway")
