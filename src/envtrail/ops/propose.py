"""What a proposal's author (or an admin) does with one that cannot land as it is:
``propose --redo`` re-makes it on the current line head; ``propose --withdraw`` takes it
off the proposals.

Neither deletes it: it is shelved under ``refs/envtrail/withdrawn/`` (routing), never
pushed, because it may have been pushed already and the key pair it sealed stays among a
value's readers for the offboarding report and the restore notes (review14 B3). The next
``sync`` removes it from the remote, as for an applied one (ops.proposalsync).
"""

from __future__ import annotations

from envtrail.audit import signature
from envtrail.audit.repairs import signature_state
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, UsageError
from envtrail.gitstore.commit import recover
from envtrail.gitstore.discover import lock_path
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.gate import open_line
from envtrail.ops.proposal import is_repair, load
from envtrail.ops.redo import remake
from envtrail.ops.routing import shelve_proposal
from envtrail.ops.store import whoami
from envtrail.ops.txn import Written
from envtrail.runtime import Runtime


def redo(git: GitRepo, rt: Runtime, identity: Identity,
         proposal_id: str) -> tuple[str, Written]:
    """Re-make the author's stale proposal (any write action) on the current line head, as
    a new proposal (its approvals named the old commit, so none carries over), and
    withdraw the old one. The old one's id (``proposal_id`` may be a prefix of it) and
    the write back; ``Written.commit`` is None if the line already holds it all."""
    with WriteLock(lock_path(git.root)):
        recover(git)
        line = open_line(git, rt, identity)
        prop = load(git, line.view, proposal_id, line.head)
        if not prop.stale:
            raise UsageError(f"proposal {prop.id} is based on the line head; nothing to redo",
                             hint=f"`envtrail apply {prop.id}` once it is approved")
        signed = signature.check(line.view, git.info(prop.commit))
        if line.head is None or whoami(line.snapshot, identity, rt).principal != \
                prop.record.actor or not signed.good or signed.key != identity.public.openssh:
            # The key, not only the name: a proposal signed by another key bound to the
            # same principal (say, in a state a repair undid) is not this author's to re-sign.
            raise AccessDenied(f"only its author {prop.record.actor} re-proposes {prop.id}, "
                               "with the key that signed it")
        written = remake(git, rt, identity, prop.commit, line.head)
        # Kept under withdrawn/, not deleted: it may have been pushed, and the key pair it
        # sealed stays counted among a value's readers (review14 B3).
        shelve_proposal(git, prop.id)
        return prop.id, written


def withdraw(git: GitRepo, rt: Runtime, identity: Identity, proposal_id: str) -> str:
    """Take a proposal off the proposals (its author, or an admin), shelved under
    ``refs/envtrail/withdrawn/`` so that its seats stay counted; its id back. The next
    ``sync`` removes it from the remote and from the clones that have it."""
    with WriteLock(lock_path(git.root)):
        # A proposed repair sits on a line with findings, which is what it is for.
        line = open_line(git, rt, identity, allow_findings=is_repair(git, proposal_id))
        prop = load(git, line.view, proposal_id, line.head)
        acting = whoami(line.snapshot, identity, rt)
        info = git.info(prop.commit)
        signed = signature.check(line.view, info, signature_state(line.view, info, prop.record))
        # Its signature says whose it is, not the record's claim. This guards against a
        # mistake, not an attack: anyone who can push can delete the remote's ref anyway.
        if not (signed.good and signed.principal == acting.principal) and \
                not acting.signer.admin:
            raise AccessDenied(f"only its author {prop.record.actor} or an admin withdraws "
                               f"proposal {prop.id}")
        shelve_proposal(git, prop.id)
        return prop.id
