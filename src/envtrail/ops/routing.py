"""Where a write goes: onto the line, onto a proposal ref, or nowhere (approvals missing).

A write is judged by the commit it made, with the same function ``verify``
uses for rule 9, so what a write refuses and what verify reports cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from envtrail.audit.breakglass import barred
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import AccessDenied, IntegrityError, NotFoundError, UsageError
from envtrail.format.policy import Policy
from envtrail.gitstore.commit import CasFailed, move_branch
from envtrail.gitstore.repo import GitRepo

if TYPE_CHECKING:
    from envtrail.audit.approvals import Requirement

PROPOSALS = "refs/envtrail/proposals/"
# Proposals the remote lost without being applied: kept here, never pushed, so that the
# offboarding report still counts the values they held (a member may have read them).
WITHDRAWN = "refs/envtrail/withdrawn/"
ID_LENGTH = 12
_MAX_CHAIN = 500  # approvals above one proposal; more is not a proposal envtrail made


@dataclass(frozen=True)
class Route:
    """How a write asks to land: ``--propose`` or ``--break-glass`` (neither: directly)."""

    propose: bool = False
    break_glass: bool = False

    def __post_init__(self) -> None:
        if self.propose and self.break_glass:
            raise UsageError("--propose and --break-glass exclude each other",
                             hint="propose a change for review, or land it now in an incident")


DIRECT = Route()


def mark(rec: Record, route: Route) -> Record:
    """The record with ``Envtrail-Break-Glass: yes`` where the write says ``--break-glass``."""
    if not route.break_glass:
        return rec
    from envtrail.audit.breakglass import BREAK_GLASS

    return replace(rec, extra=(*rec.extra, (BREAK_GLASS, "yes")))


def proposal_ref(proposal_id: str) -> str:
    """The ref a proposal lives on."""
    return PROPOSALS + proposal_id


def settle(git: GitRepo, view: StoreView, commit: str, rec: Record, route: Route) -> str | None:
    """File ``commit`` as a proposal (its id back), let it onto the line (None), or
    refuse it (AccessDenied) when it needs approvals the write did not ask for, or says
    --break-glass where the policy bars it."""
    if route.propose:
        proposal_id = commit[:ID_LENGTH]
        try:
            move_branch(git, proposal_ref(proposal_id), None, commit, "envtrail: propose")
        except CasFailed:
            raise UsageError(f"proposal {proposal_id} exists already") from None
        return proposal_id
    info = git.info(commit)
    if route.break_glass and info.parents:
        try:
            why = barred(view.policy(info.parents[0]), list(rec.environments))
        except IntegrityError:
            why = None  # as below
        if why:  # as require_route, for the writes that could not ask before building
            raise _glass_refused(why)
    need = needs(view, commit, rec)
    if need is None:
        return None
    if route.break_glass:
        if need.glass_refusal:
            raise _glass_refused(need.glass_refusal)
        return None
    raise _unapproved(", ".join(need.environments) or "the store", need.needed)


def needs(view: StoreView, commit: str, rec: Record) -> Requirement | None:
    """The approvals ``commit`` needs on the line (rule 9's own judgement), or None."""
    info = view.git.info(commit)
    try:
        if rec.action != "repair" and info.parents and \
                not view.policy(info.parents[0]).max_approvals():
            return None  # what `requirement` answers first; most stores need no approvals
        # (A repair's rules are not its parent's, which it may be undoing.)
        from envtrail.audit.approvals import requirement

        return requirement(view, info, rec)
    except IntegrityError:
        # A policy the parent cannot read is a finding there, so only a repair writes on
        # top of one; rule 9 judges that case the same way (audit.ledger.Ledger).
        return None


def require_route(policy: Policy, environment: str, route: Route) -> None:
    """Before any prompt: refuse a direct value write to an environment that needs approvals,
    and a break-glass one where the policy says ``break_glass: false`` (``settle`` makes the
    same decisions from the commit itself)."""
    needed = policy.rule_for(environment).approvals
    if route.break_glass:
        # Whatever the count: the policy's word is "never in this environment" (rule 9
        # judges it only where approvals are needed, as nothing else is bypassed).
        why = barred(policy, [environment])
        if why:
            raise _glass_refused(why)
    if needed and not (route.propose or route.break_glass):
        raise _unapproved(environment, needed)


def _glass_refused(why: str) -> AccessDenied:
    return AccessDenied(f"break-glass refused: {why}",
                        hint="propose it with --propose and ask an approver")


def _unapproved(where: str, needed: int) -> AccessDenied:
    return AccessDenied(
        f"this change to {where} needs {needed} approval(s) before it lands",
        hint="add --propose and ask an approver to run `envtrail approve ID`; in an incident, "
             "--break-glass lands a value change now for review afterwards")


def plausible(proposal_id: str) -> bool:
    """Whether ``proposal_id`` could name a proposal (or a prefix of one): hex, of a
    length git would take, so that no text reaches a ref name unchecked."""
    return 4 <= len(proposal_id) <= 40 and all(c in "0123456789abcdef" for c in proposal_id)


def chain_of(git: GitRepo, tip: str, proposal_id: str) -> list[str] | None:
    """A proposal's commits, the proposal first, then its approvals; None if ``tip`` does
    not lead down to a commit whose id starts with ``proposal_id``."""
    chain = [tip]
    while not chain[-1].startswith(proposal_id):
        parents = git.info(chain[-1]).parents
        if len(parents) != 1 or len(chain) > _MAX_CHAIN:
            return None
        chain.append(parents[0])
    return chain[::-1]


def find_proposal(git: GitRepo, text: str) -> str | None:
    """The id of the one proposal ``text`` names: its id, a prefix of it, or a longer
    prefix of its proposal commit (what an approval names); None if no proposal is
    named; UsageError (exit 2) naming them where it names several."""
    if not plausible(text):
        return None
    if git.ref_target(proposal_ref(text)) is not None:
        return text
    found = [pid for pid in proposal_ids(git) if pid.startswith(text)]
    if not found and len(text) > ID_LENGTH and plausible(text[:ID_LENGTH]):
        tip = git.ref_target(proposal_ref(text[:ID_LENGTH]))
        if tip is not None and chain_of(git, tip, text) is not None:
            found = [text[:ID_LENGTH]]
    if len(found) > 1:
        raise UsageError(f"{text!r} names {len(found)} proposals: {', '.join(found)}",
                         hint="give more of the id")
    return found[0] if found else None


def proposal_root(git: GitRepo, text: str) -> tuple[str, str, list[str], Record]:
    """(id, tip, chain, the proposal commit's record) of the proposal ``text`` names
    (:func:`find_proposal`), read without judging anything: NotFoundError, or
    IntegrityError for a ref that holds no envtrail proposal."""
    from envtrail.audit.history import parse_record

    found = find_proposal(git, text)
    tip = git.ref_target(proposal_ref(found)) if found else None
    if found is None or tip is None:
        raise NotFoundError(f"no proposal {text[:40]!r}", hint="list them with `envtrail "
                                                               "proposals`")
    chain = chain_of(git, tip, found)
    if chain is None:
        raise IntegrityError(f"proposal {found} is malformed (no proposal commit under its "
                             "approvals)")
    rec = parse_record(git.info(chain[0]))
    if rec is None:
        raise IntegrityError(f"proposal {found} is not an envtrail commit")
    return found, tip, chain, rec


def proposal_ids(git: GitRepo) -> list[str]:
    """The ids of every proposal in this clone, sorted."""
    return sorted(name[len(PROPOSALS):] for name in git.ref_names(PROPOSALS))


def drop_proposal(git: GitRepo, proposal_id: str) -> None:
    """Delete a proposal's ref (after it was applied)."""
    git.delete_ref(proposal_ref(proposal_id))


def shelve_proposal(git: GitRepo, proposal_id: str) -> None:
    """Move a proposal that is gone from the remote unapplied off the proposals, under
    ``WITHDRAWN`` (anyone who can push can delete a ref, so its values stay counted)."""
    tip = git.ref_target(proposal_ref(proposal_id))
    if tip is not None:
        git.set_ref(WITHDRAWN + proposal_id, tip, force=True)
    drop_proposal(git, proposal_id)


def proposal_tips(git: GitRepo) -> list[str]:
    """The commits the proposal refs point at: ``refs/envtrail/proposals/*``, the
    remotes' copies under ``refs/envtrail-remotes/<remote>/proposals/*``, and those sync
    kept when the remote lost them unapplied (``refs/envtrail/withdrawn/*``); only those
    signed by a signer of their parent, as `review` asks. Anyone who can push fills the
    remotes' copies, and a forged one must not put names in an offboarding report."""
    from envtrail.audit import signature
    from envtrail.gitstore.remote import MIRROR_ROOT

    view, tips = StoreView(git), set()
    listed = {**git.refs(PROPOSALS), **git.refs(WITHDRAWN), **git.refs(MIRROR_ROOT)}
    for name, target in listed.items():
        mirrored = name.startswith(MIRROR_ROOT) and "/proposals/" in name[len(MIRROR_ROOT):]
        if (name.startswith((PROPOSALS, WITHDRAWN)) or mirrored) and target not in tips \
                and git.has_commit(target) and signature.shown(view, git.info(target)).good:
            tips.add(target)
    return sorted(tips)
