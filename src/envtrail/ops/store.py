"""Who the caller is in a store: their allowed-signer entry at a snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied
from envtrail.format import signers
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Acting:
    """The caller as the store knows them: identity plus allowed-signer entry."""

    identity: Identity
    signer: signers.Signer

    @property
    def principal(self) -> str:
        """The principal bound to the caller's key."""
        return self.signer.principal


def whoami(snap: Snapshot, identity: Identity, rt: Runtime) -> Acting:
    """The caller's allowed-signer entry; AccessDenied if the key may not sign now."""
    key = identity.public.openssh
    now = rt.now()
    for s in snap.signers:
        if s.key == key:
            if not s.valid_at(now):
                raise AccessDenied(f"{s.principal}'s key is no longer an allowed signer here")
            return Acting(identity, s)
    raise AccessDenied(
        "your key is not an allowed signer of this store",
        hint="ask an admin to run `envtrail access grant` with your `envtrail identity show` line",
    )
