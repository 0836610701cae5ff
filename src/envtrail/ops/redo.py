"""Re-making a proposal on the current line head (``propose --redo`` and ``sync``).

A proposal is re-made as the change it makes, by the same replay ``sync``
uses for the line (ops.replay): what each variable, member, signer and policy
scope became is applied to the new head's state, re-encrypted to today's keys
and checked against today's signers, membership and policy. So it works for
every write action ``--propose`` supports, and nothing in the new proposal is
sealed to a key a revocation retired after the old one was made. Approvals
never carry over: each named exactly the old commit.
"""

from __future__ import annotations

from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.replay import delta, replay
from envtrail.ops.routing import Route, settle
from envtrail.ops.txn import Written
from envtrail.runtime import Runtime


def remake(git: GitRepo, rt: Runtime, identity: Identity, commit: str, head: str) -> Written:
    """File what proposal commit ``commit`` changes as a new proposal on ``head`` (a
    verified line head); ``Written.commit`` is None when the line already holds it all."""
    info = git.info(commit)
    rec = parse_record(info)
    if rec is None or len(info.parents) != 1:
        raise IntegrityError(f"{commit[:10]} is no proposal commit")
    if rec.action == "repair":
        raise UsageError("a proposed repair is not re-made automatically: it names the "
                         "findings of its own time",
                         hint="run `envtrail repair --propose` again")
    change = delta(git, Keyring(identity), info.parents[0], commit)
    new = replay(git, rt, identity, commit, change, set(), head)
    if new is None:
        return Written(None, rec)
    new_rec = parse_record(git.info(new))
    if new_rec is None:  # replay renders a record; this is a bug, not user input
        raise IntegrityError(f"the re-made proposal {new[:10]} carries no record")
    proposal = settle(git, StoreView(git), new, new_rec, Route(propose=True))
    return Written(new, new_rec, proposal=proposal)
