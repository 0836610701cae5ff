"""Policy checks made before a write (verify re-checks them from history)."""

from __future__ import annotations

import re

from envtrail.errors import AccessDenied
from envtrail.format.policy import Policy
from envtrail.format.signers import Signer


def policy_violation(policy: Policy, environment: str, signer: Signer, reason: str) -> str | None:
    """The rule a write would break, as a sentence, or None if it is allowed."""
    rule = policy.rule_for(environment)
    if rule.require_reason and not reason:
        return f"require_reason: {environment} changes need a non-empty --reason"
    if rule.reason_pattern and not re.search(rule.reason_pattern, reason):
        return (f"reason_pattern: {environment} changes need a reason matching "
                f"{rule.reason_pattern!r}")
    if rule.writers is not None:
        allowed = signer.principal in rule.writers or ("admins" in rule.writers and signer.admin)
        if not allowed:
            return f"writers: {signer.principal} may not change {environment}"
    return None


def authorize_write(policy: Policy, environment: str, signer: Signer, reason: str) -> None:
    """AccessDenied naming the rule if policy refuses this write."""
    broken = policy_violation(policy, environment, signer, reason)
    if broken:
        raise AccessDenied(f"policy refused: {broken}")


def require_admin(signer: Signer, what: str) -> None:
    """AccessDenied unless the signer is an admin."""
    if not signer.admin:
        raise AccessDenied(f"only an admin may {what}",
                           hint="admins are marked envtrail:admin in .envtrail/allowed_signers")
