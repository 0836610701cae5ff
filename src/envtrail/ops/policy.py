"""Changing policy.yaml: an admin's signed commit, never a hand edit."""

from __future__ import annotations

from dataclasses import dataclass, replace

from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, UsageError
from envtrail.format import policy
from envtrail.format.layout import POLICY
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_principal, check_reason
from envtrail.ops import reach
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class ShownRule:
    """One row of `policy show`: whose rule (None: the default, for environments added
    later), whether that environment exists yet, and the rule's keys."""

    environment: str | None
    added: bool
    rule: dict[str, object]


def shown_rules(snap: Snapshot, environment: str | None = None) -> list[ShownRule]:
    """The rules `policy show` lists: ``environment``'s, or every environment's, those
    written ahead of `env add`, and the default. A rule written ahead, or the default,
    raises the count every policy, signers or config change needs: shown, so nobody
    wonders why."""
    if environment is not None:
        check_env_name(environment)  # review14 B5: '*' is the default's JSON key
    existing, rules = set(snap.environments()), snap.policy
    names = [environment] if environment else sorted(existing | set(rules.environments))
    rows = [ShownRule(n, n in existing, _filled(rules.rule_for(n))) for n in names]
    return rows + ([] if environment else [ShownRule(None, False, _filled(rules.defaults))])


def _filled(rule: policy.Rule) -> dict[str, object]:
    """Every key of a rule, defaults included: what the table prints, JSON says too
    (review14 S7), where the file leaves the defaults out."""
    return {**rule.as_dict(), "approvals": rule.approvals,
            "approvers": list(rule.approvers) if rule.approvers is not None else "members",
            "break_glass": rule.break_glass, "break_glass_review": rule.break_glass_review}


def parse_writers(text: str) -> object:
    """``any`` or a comma-separated list of principals and/or ``admins``."""
    return _names(text, "--writers", "any", {"admins"})


def parse_approvers(text: str) -> object:
    """``members`` or a comma-separated list of principals."""
    return _names(text, "--approvers", "members", set())


def _names(text: str, flag: str, everyone: str, words: set[str]) -> object:
    if text.strip() == everyone:
        return everyone
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{flag} takes '{everyone}' or a comma-separated list")
    for name in names:
        if name not in words:
            check_principal(name)
    return names


def check_count(count: int) -> int:
    """An approval count from 0 to 100."""
    if not 0 <= count <= 100:
        raise UsageError("--approvals takes a number from 0 to 100")
    return count


def check_review(text: str) -> str:
    """A break-glass review window such as ``24h``, ``90m`` or ``2d``."""
    if not policy.is_duration(text.strip()):
        raise UsageError("--review takes a duration such as 24h, 90m or 2d")
    return text.strip()


def _reach(snap: Snapshot, current: policy.Policy, updated: policy.Policy,
           author: str) -> list[str]:
    """AccessDenied (a policy refusal) where the new rules would leave no admin able to get
    a change of policy, signers or members approved and the current ones did not
    (:func:`ops.reach.find_frozen`);
    notes where only the author's own changes to an environment whose count or approvers
    change would wait."""
    frozen = reach.find_newly_frozen(snap, updated, snap.signers, author)
    if frozen:
        raise AccessDenied(frozen, hint="grant more approvers first (or name them with "
                                      "--approvers), or set a count they can meet")
    approvers = reach.approvers_by_env(snap, updated, reach.open_signers(snap.signers))
    moved = {env for env in approvers if (current.rule_for(env).approvals,
                                          current.rule_for(env).approvers) !=
             (updated.rule_for(env).approvals, updated.rule_for(env).approvers)}
    return reach.find_lonely(updated, approvers, author, moved)


def set_rule(git: GitRepo, rt: Runtime, identity: Identity, environment: str | None,
             changes: dict[str, object], reason: str | None, route: Route = DIRECT) -> Written:
    """Set keys of the default rule (``environment`` None) or of one environment's rule."""
    if environment is not None:
        check_env_name(environment)
    text = check_reason(reason)
    pattern = changes.get("reason_pattern")
    if isinstance(pattern, str):
        try:
            policy.compile_pattern(pattern)
        except policy.PatternError as exc:
            raise UsageError(f"--reason-pattern is {exc}", hint=policy.SYNTAX_HINT) from None
    if not changes:
        raise UsageError("nothing to set", hint="see `envtrail policy set --help`")
    warnings: list[str] = []

    def build(snap: Snapshot) -> Plan | None:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "change policy")
        if not text:
            raise UsageError("changing policy needs a --reason")
        current = snap.policy
        if environment is None:
            updated = policy.Policy(policy.rule_from({**current.defaults.as_dict(), **changes}),
                                    current.environments)
        else:
            envs = {k: dict(v) for k, v in current.environments.items()}
            envs[environment] = {**envs.get(environment, {}), **changes}
            updated = policy.Policy(current.defaults, envs)
        data = policy.render(updated)
        if data == snap.read(POLICY):
            return None
        warnings[:] = _reach(snap, current, updated, acting.principal)
        policy.parse(data)  # what we write must read back
        rec = Record("policy", acting.principal, text,
                     (environment,) if environment else (), context=context_for(rt))
        return Plan({POLICY: data}, rec)

    written = transact(git, rt, identity, build, route=route)
    return replace(written, warnings=tuple(warnings)) if written.commit else written
