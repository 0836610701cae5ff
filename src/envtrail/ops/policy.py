"""Changing policy.yaml: an admin's signed commit, never a hand edit."""

from __future__ import annotations

from dataclasses import replace

from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import UsageError
from envtrail.format import policy
from envtrail.format.layout import POLICY
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_principal, check_reason
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime


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
    """UsageError where the new rules leave an environment whose count or approvers this
    change touches with a count nobody can meet (see :func:`shortfall`); the warnings
    where only the author's own changes wait for approvers yet to join."""
    from envtrail.audit.approvals import approvers_at

    signing = {s.principal for s in snap.signers if s.valid_before is None}
    warnings = []
    for env in snap.environments():
        old, new = current.rule_for(env), updated.rule_for(env)
        if (old.approvals, old.approvers) == (new.approvals, new.approvers):
            continue
        # A listed name with no signing key (a typo) can never approve.
        stuck, lonely = shortfall(env, new, approvers_at(snap.view, snap.commit, [env],
                                                         updated) & signing, author)
        if stuck:
            raise UsageError(stuck, hint="grant the approvers first (or name them with "
                                         "--approvers), then set the count")
        warnings += [lonely] if lonely else []
    return warnings


def shortfall(env: str, rule: policy.Rule, approvers: frozenset[str] | set[str],
              author: str) -> tuple[str | None, str | None]:
    """What ``rule`` asks of ``env`` that its ``approvers`` (those who can sign) cannot
    give: first, why nobody could ever meet it (more approvals than approvers, or, where
    the policy lists them and a grant adds none, than approvers besides ``author``):
    lowering the count again would need that very count, so the store would be stuck for
    good; second, a note where only ``author``'s own changes would wait."""
    if not rule.approvals:
        return None, None
    others = set(approvers) - {author}
    if rule.approvals > len(approvers) or (rule.approvers is not None
                                           and rule.approvals > len(others)):
        return (f"{env} would need {rule.approvals} approval(s) but have {len(others)} "
                f"approver(s) who can sign besides {author}: changes there, and of the "
                "policy, could never be approved"), None
    if rule.approvals > len(others):
        return None, (f"{env} needs {rule.approvals} approval(s) and has {len(others)} "
                      f"approver(s) besides {author}: changes of yours there, and of the "
                      "policy, can no longer be approved until more members join")
    return None, None


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
