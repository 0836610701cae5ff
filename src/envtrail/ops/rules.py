"""Policy checks made before a write (verify re-checks them from history)."""

from __future__ import annotations

from envtrail.errors import AccessDenied
from envtrail.format.policy import Policy
from envtrail.format.signers import Signer


def authorize_write(policy: Policy, environment: str, signer: Signer, reason: str) -> None:
    """AccessDenied naming the rule if policy refuses this write."""
    broken = policy.violation(environment, signer.principal, signer.admin, reason)
    if broken:
        raise AccessDenied(f"policy refused: {broken}")


def require_admin(signer: Signer, what: str) -> None:
    """AccessDenied unless the signer is an admin."""
    if not signer.admin:
        raise AccessDenied(f"only an admin may {what}",
                           hint="admins are marked envtrail:admin in .envtrail/allowed_signers")
