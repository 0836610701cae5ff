"""Whether approval counts can still be met: what `policy set`, `access revoke`, `access
admin`, `apply` and `sync` ask of the state a change leaves.

A count is lowered, and an approver added, only by a change of policy, signers or
members, which an admin makes and the approvers of every environment that asks for
approvals must approve (which environments, and their counts, come from the functions
audit.approvals judges such a change with once it is made). Where no admin
could get such a change approved, nothing ever could again: the store is stuck for
good, and only a reviewed rewrite of the line gets out. A write that would cause
that is refused, or (an incident's break-glass revoke) warned about.
"""

from __future__ import annotations

from collections.abc import Iterable

from envtrail.audit.view import Snapshot
from envtrail.format.policy import Policy
from envtrail.format.signers import Signer


def open_signers(lines: Iterable[Signer], admins: bool = False) -> set[str]:
    """The principals with an open line among ``lines`` (allowed_signers), the only ones
    whose approvals count; with ``admins``, only those marked admin."""
    return {s.principal for s in lines if s.valid_before is None and (s.admin or not admins)}


def approvers_by_env(snap: Snapshot, rules: Policy, signing: set[str],
                     leaving: tuple[str, str] | None = None) -> dict[str, set[str]]:
    """By environment that asks for approvals under ``rules`` and has someone to ask (it
    exists, or the policy lists its approvers; audit.approvals builds no quorum
    otherwise): its approvers among ``signing`` (a listed name with no open signing key,
    a typo say, never approves), without ``leaving`` (principal, environment) where the
    members are the approvers."""
    from envtrail.audit.approvals import approvers_at, has_quorum, store_wide_counts

    existing = set(snap.environments())
    out: dict[str, set[str]] = {}
    for env, count in store_wide_counts(existing, [rules]).items():
        if not count or not has_quorum(env, [rules], env in existing):
            continue
        approvers = set(approvers_at(snap.view, snap.commit, [env], rules))
        if leaving is not None and leaving[1] == env and rules.rule_for(env).approvers is None:
            approvers.discard(leaving[0])
        out[env] = approvers & signing
    return out


def find_frozen(rules: Policy, approvers: dict[str, set[str]], admins: set[str],
                author: str | None) -> str | None:
    """Why no admin among ``admins`` could ever get a change of policy, signers or members
    approved, given :func:`approvers_by_env` (None: one could). Such a change needs every
    environment's count from its own approvers and, in all, the highest count anywhere
    (a default or a rule written ahead of `env add` included), never from its author.
    Said as ``author`` (the admin asking) would meet it."""
    why = {admin: _blocked(rules, approvers, admin) for admin in sorted(admins)}
    if why and not all(why.values()):
        return None
    said, env = why.get(author or "") or next(iter(why.values()), None) or \
        ("no admin can sign", None)
    where = "changes there, and of policy, signers and members," if env else \
        "changes of policy, signers and members"
    return f"{said}, and no other admin could ask: {where} could never be approved"


def find_newly_frozen(snap: Snapshot, rules: Policy, lines: Iterable[Signer], author: str,
                      leaving: tuple[str, str] | None = None) -> str | None:
    """:func:`find_frozen` of the state a change on ``snap`` leaves (its ``rules``, its
    allowed_signers ``lines``, a member ``leaving`` an environment), where ``snap`` itself
    was not frozen: what `policy set`, `access revoke` and `access admin` refuse."""
    now = open_signers(snap.signers)
    if find_frozen(snap.policy, approvers_by_env(snap, snap.policy, now),
                   open_signers(snap.signers, admins=True), author):
        return None  # stuck already: this change is not what stranded it
    lines = list(lines)
    return find_frozen(rules, approvers_by_env(snap, rules, open_signers(lines), leaving),
                       open_signers(lines, admins=True), author)


def find_lonely(rules: Policy, approvers: dict[str, set[str]], author: str,
                environments: set[str]) -> list[str]:
    """Notes where only ``author``'s own changes to one of ``environments`` (and of the
    policy) would wait for another admin or for approvers yet to join."""
    out = []
    for env in sorted(environments & approvers.keys()):
        count, others = rules.rule_for(env).approvals, approvers[env] - {author}
        if count > len(others):
            out.append(f"{env} needs {count} approval(s) and has {len(others)} approver(s) "
                       f"besides {author}: changes of yours there, and of the policy, can "
                       "no longer be approved until more members join")
    return out


def find_stranded(before: Snapshot, after: Snapshot) -> str | None:
    """What nobody could ever approve at ``after`` that one could at ``before`` (sync
    names it after replaying this clone's commits on another's: each was fine on its
    own head)."""
    def frozen(snap: Snapshot) -> str | None:
        rules, signing = snap.policy, open_signers(snap.signers)
        return find_frozen(rules, approvers_by_env(snap, rules, signing),
                           open_signers(snap.signers, admins=True), None)

    return frozen(after) if frozen(before) is None else None


def _blocked(rules: Policy, approvers: dict[str, set[str]],
             admin: str) -> tuple[str, str | None] | None:
    """The first count ``admin``'s change of policy, signers or members could not meet,
    and the environment that asks it (None: the count in all)."""
    for env, who in approvers.items():
        count, others = rules.rule_for(env).approvals, who - {admin}
        if count > len(others):
            return (f"{env} would need {count} approval(s) and has {len(others)} approver(s) "
                    f"who can sign besides {admin}"), env
    needed, others = rules.max_approvals(), set().union(*approvers.values()) - {admin}
    if needed > len(others):
        return (f"changes of signers, policy or config would need {needed} approval(s) (the "
                "highest count in the policy, a default or a rule for an environment not "
                f"added yet included) and {len(others)} approver(s) who can sign besides "
                f"{admin} could give them"), None
    return None
