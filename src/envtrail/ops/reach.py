"""Whether approval counts can still be met: what `policy set` and `access revoke` ask
before they write.

Lowering a count needs that very count (a policy change needs the highest one), so a
count that outgrows its approvers is never lowered again: the store is stuck for good,
and only a reviewed rewrite of the line gets out. A write that would cause that is
refused, or (an incident's break-glass revoke) warned about.
"""

from __future__ import annotations

from envtrail.audit.view import Snapshot
from envtrail.format.policy import Policy


def signing_now(lines) -> set[str]:
    """The principals with an open line among ``lines`` (allowed_signers): the only ones
    whose approvals count."""
    return {s.principal for s in lines if s.valid_before is None}


def quorums(snap: Snapshot, rules: Policy, signing: set[str],
            leaving: tuple[str, str] | None = None) -> dict[str, set[str]]:
    """By environment that asks for approvals under ``rules`` and has someone to ask
    (it exists, or the policy lists its approvers; audit.approvals builds no quorum
    otherwise): its approvers among ``signing`` (a listed name with no open signing key,
    a typo say, never approves), without ``leaving`` (principal, environment) where the
    members are the approvers."""
    from envtrail.audit.approvals import approvers_at

    existing = set(snap.environments())
    out: dict[str, set[str]] = {}
    for env in sorted(existing | set(rules.environments)):
        rule = rules.rule_for(env)
        if not rule.approvals or (env not in existing and rule.approvers is None):
            continue
        approvers = set(approvers_at(snap.view, snap.commit, [env], rules))
        if leaving is not None and leaving[1] == env and rule.approvers is None:
            approvers.discard(leaving[0])
        out[env] = approvers & signing
    return out


def unmeetable(rules: Policy, approvers: dict[str, set[str]],
               author: str | None) -> dict[str, str]:
    """What nobody could ever approve, given :func:`quorums`' ``approvers`` and the admin
    ``author`` asking: by environment, a count above its approvers (where the policy
    lists them, above those besides ``author``: a grant adds none); under ``"*"``, the
    count every signers, policy or config change needs (the highest anywhere, a default
    or a rule written ahead of `env add` included) above all of them together."""
    out: dict[str, str] = {}
    for env, who in approvers.items():
        rule = rules.rule_for(env)
        others = who - {author}
        if rule.approvals > len(who) or (rule.approvers is not None
                                         and rule.approvals > len(others)):
            besides = f" besides {author}" if author else ""
            out[env] = (f"{env} would need {rule.approvals} approval(s) but have "
                        f"{len(others)} approver(s) who can sign{besides}: changes there, "
                        "and of the policy, could never be approved")
    needed, pool = rules.max_approvals(), set().union(*approvers.values())
    if needed > len(pool):
        out["*"] = (f"changes of signers, policy or config would need {needed} approval(s) "
                    f"but {len(pool)} approver(s) who can sign could give them (the highest "
                    "count in the policy asks it, a default or a rule for an environment "
                    "not added yet included): they could never be approved")
    return out


def stranded(snap: Snapshot) -> list[str]:
    """What nobody could ever approve at ``snap`` (a state already written: sync names
    it after replaying a revoke another clone's revoke made too much)."""
    rules = snap.policy
    return list(unmeetable(rules, quorums(snap, rules, signing_now(snap.signers)),
                           None).values())


def lonely(rules: Policy, approvers: dict[str, set[str]], author: str,
           environments: set[str]) -> list[str]:
    """Notes where only ``author``'s own changes to one of ``environments`` (and of the
    policy) would wait for approvers yet to join."""
    out = []
    for env in sorted(environments & approvers.keys()):
        count, others = rules.rule_for(env).approvals, approvers[env] - {author}
        if count > len(others):
            out.append(f"{env} needs {count} approval(s) and has {len(others)} approver(s) "
                       f"besides {author}: changes of yours there, and of the policy, can "
                       "no longer be approved until more members join")
    return out
