"""Vouching for HEAD's history before a read or a write, incrementally.

Cheap in the common case (this branch's checkpoint is HEAD: nothing is
imported or walked); the verification machinery loads only when there are
new commits to check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envtrail.audit import checkpoint
from envtrail.audit.checkpoint import Checkpoint
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import GitRepo

if TYPE_CHECKING:
    from envtrail.audit.verify import Finding
    from envtrail.audit.view import StoreView


def rewritten(cp: Checkpoint) -> Finding:
    """The rule 8 finding for a checkpoint that is no longer in the history."""
    from envtrail.audit.verify import Finding

    return Finding(cp.head, 8, "the last verified head is no longer in the history "
                               "(history was rewritten, e.g. by a force-push or rebase)")


def checkpoint_for(view: StoreView, head: str) -> Checkpoint:
    """The checkpoint that records ``head`` and its environment file blobs."""
    return Checkpoint(head, view.env_blobs(head))


def ensure_verified(git: GitRepo, commit: str) -> int:
    """Vouch that HEAD's history verifies and contains ``commit``; return commits checked.

    Only commits added since the last clean verification are checked; with
    nothing new this is a ref read and a file read. IntegrityError (exit 5)
    names the first finding.
    """
    head = git.head()
    if head is None:
        return 0
    ref = git.head_ref()
    known = checkpoint.load_all(git.root)
    cp = known.get(ref)
    checked = 0
    if cp is None or cp.head != head:
        if cp is not None and not git.is_ancestor(cp.head, head):
            _refuse(rewritten(cp))
        # Start from this branch's checkpoint, or from any other branch's that
        # HEAD descends from (a new branch), rather than from the root.
        since = cp.head if cp else next(
            (c.head for c in known.values() if git.is_ancestor(c.head, head)), None)
        from envtrail.audit.verify import Verifier
        from envtrail.audit.view import StoreView

        view = StoreView(git)
        verifier = Verifier(view)
        for finding in verifier.walk(head, since=since):
            _refuse(finding)
        checked = verifier.checked
        checkpoint.save(git.root, ref, checkpoint_for(view, head))
    if commit != head and not git.is_ancestor(commit, head):
        raise IntegrityError(f"{commit[:10]} is not in the verified history of HEAD",
                             hint="pass --no-verify to read it anyway")
    return checked


def _refuse(finding: Finding) -> None:
    raise IntegrityError(f"history does not verify: {finding.line()}",
                         hint="run `envtrail verify` for every finding; --no-verify reads anyway")


