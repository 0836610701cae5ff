"""Who signed a commit, checked against allowed_signers as of its parent."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.view import StoreView
from envtrail.crypto import sshsig
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import CommitInfo

GOOD, UNSIGNED, BAD, UNKNOWN_KEY, EXPIRED = "good", "unsigned", "bad", "unknown-key", "expired"


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one commit's signature."""

    status: str
    principal: str | None = None
    admin: bool = False
    key: str | None = None  # the signing key, "ssh-ed25519 AAAA..."

    @property
    def good(self) -> bool:
        """Signed, valid, by an allowed signer within its validity window."""
        return self.status == GOOD


def check(view: StoreView, info: CommitInfo, trust_at: str | None = None) -> Verdict:
    """Verify the commit's SSH signature; trust comes from the parent's allowed_signers
    (or ``trust_at``'s: a repair is judged by the state it restores, an event by the
    store line commit it follows).

    The root commit has no parent and trusts the allowed_signers it creates.
    """
    sig, payload = view.git.signature(info.id)
    if not sig:
        return Verdict(UNSIGNED)
    try:
        key = sshsig.verify(sig.decode("ascii", "replace"), payload, "git")
    except sshsig.SignatureError:
        return Verdict(BAD)
    trust_at = trust_at or (info.parents[0] if info.parents else info.id)
    line = key.openssh
    entry = next((s for s in view.signers(trust_at) if s.key == line), None)
    if entry is None:
        return Verdict(UNKNOWN_KEY, key=line)
    if not entry.valid_at(info.committer_time):
        return Verdict(EXPIRED, entry.principal, entry.admin, line)
    return Verdict(GOOD, entry.principal, entry.admin, line)


def shown(view: StoreView, info: CommitInfo) -> Verdict:
    """:func:`check` for display (log, show): where the allowed_signers it trusts cannot
    be read (verify names that as a finding), no key is known."""
    try:
        return check(view, info)
    except IntegrityError:
        return Verdict(UNKNOWN_KEY)
