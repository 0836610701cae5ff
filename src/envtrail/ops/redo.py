"""Re-making a proposal on the current line head (``propose --redo`` and ``sync``).

A proposal is re-made as the change it makes, by the same replay ``sync``
uses for the line (ops.replay): what each variable, member, signer and policy
scope became is applied to the new head's state, re-encrypted to today's keys
and checked against today's signers, membership and policy. So it works for
every write action ``--propose`` supports, and nothing in the new proposal is
sealed to a key a revocation retired after the old one was made. Approvals
never carry over: each named exactly the old commit. What the new proposal cannot
undo is that the old one's values were readable by everyone its key pair was sealed
to: a value it sets that a key no longer seated could read (someone who left, or a
member's replaced key) comes with a warning (by the offboarding report's rule,
audit.membership), as it needs rotating.
"""

from __future__ import annotations

from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.membership import proposal_readers
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError, IntegrityError, UsageError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.delta import Delta, delta
from envtrail.ops.replay import replay
from envtrail.ops.routing import ID_LENGTH, Route, settle
from envtrail.ops.txn import Written
from envtrail.runtime import Runtime


def offboarded(view: StoreView, commit: str, head: str) -> list[str]:
    """Who proposal commit ``commit`` seats with a key that was open when it was made and
    that the line has closed by ``head`` (an offboarding since): re-made or pushed, it
    would hand the environment's keys to someone just let go, with nobody asked."""
    parent = view.git.info(commit).parents[0]
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    seated: set[tuple[str, str]] = set()
    for env in sorted(e for e in after if before.get(e) != after[e]):
        old, new = view.env_at(parent, env), view.env_at(commit, env)
        had = {(p, m.key) for p, m in old.members.items()} if old else set()
        seated |= {(p, m.key) for p, m in new.members.items() if (p, m.key) not in had}

    def open_at(state: str, principal: str, key: str) -> bool:
        return any(s.principal == principal and s.key.split() == key.split()[:2]
                   and s.valid_before is None for s in view.signers(state))

    return sorted({p for p, key in seated
                   if open_at(parent, p, key) and not open_at(head, p, key)})


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
    gone = offboarded(StoreView(git), commit, head)
    if gone:
        raise ConflictError(f"{commit[:10]} seats {', '.join(gone)}, offboarded on the line "
                            "since it was proposed: it is not re-made",
                            hint="if they are to come back, an admin grants them again "
                                 "(`envtrail access grant ... --propose`)")
    change = delta(git, Keyring(identity), info.parents[0], commit)
    new = replay(git, rt, identity, commit, change, set(), head)
    view = StoreView(git)
    # Asked even when nothing is left to re-make: the line then holds the very value a
    # former reader of the old proposal knows.
    carried = exposed(view, head, commit, change)
    if new is None:
        return Written(None, rec, warnings=(_warning(commit[:ID_LENGTH], None, *carried),)
                       if carried else ())
    new_rec = parse_record(git.info(new))
    if new_rec is None:  # replay renders a record; this is a bug, not user input
        raise IntegrityError(f"the re-made proposal {new[:10]} carries no record")
    proposal = settle(git, view, new, new_rec, Route(propose=True))
    warnings = (_warning(commit[:ID_LENGTH], proposal, *carried),) if carried else ()
    return Written(new, new_rec, proposal=proposal, warnings=warnings)


def _warning(old: str, new: str | None, who: set[str], names: set[str]) -> str:
    one = len(names) == 1
    where = f"the re-made {new} keeps" if new else "the line now holds"
    return (f"proposal {old}: {', '.join(sorted(names))} could be read in it by "
            f"{', '.join(sorted(who))}, no longer a member with that key; {where} the same "
            f"{'value: rotate it' if one else 'values: rotate them'}"
            f"{' before applying' if new else ''}")


def exposed(view: StoreView, head: str, commit: str,
            change: Delta) -> tuple[set[str], set[str]] | None:
    """Who, with a key no longer seated at ``head`` (revoked, or swapped for a new one),
    could read a value that proposal ``commit`` sets (``change``: what it changes), and
    those values as ``ENV:NAME``; None if nobody."""
    setting: dict[str, set[str]] = {}
    for item, value in change.items.items():
        if item.kind == "value" and value is not None:  # a removal carries no value
            setting.setdefault(item.env, set()).add(item.name)
    if not setting:
        return None  # a grant, a revoke, a rotation, a policy: no value of its own
    who: set[str] = set()
    names: set[str] = set()
    for (principal, key), readable in proposal_readers(view, head, commit).items():
        for env, variables in readable.items():
            now = view.env_at(head, env)
            if now is not None and now.member_with_key(key) is not None:
                continue  # that key still has a seat: it reads the re-made proposal anyway
            hit = variables & setting.get(env, set())
            if hit:
                who.add(principal)
                names |= {f"{env}:{name}" for name in hit}
    return (who, names) if names else None
