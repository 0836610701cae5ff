"""Environment keys opened with one identity, cached for a whole run.

Historical files share key pairs between rotations, so each distinct
environment key is unsealed once and each ephemeral key exchanged once.
"""

from __future__ import annotations

from collections import OrderedDict

from envtrail.audit.history import recorded_fingerprint
from envtrail.audit.record import PREFIX
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError, Decryptor, EnvKeys, unb64
from envtrail.errors import IntegrityError, UsageError
from envtrail.format.envfile import EnvFile, Member
from envtrail.model import Ciphertext, check_value


class Keyring:
    """Opens environments for one identity; answers None where it is no member."""

    def __init__(self, identity: Identity | None) -> None:
        self.identity = identity
        self._keys: dict[tuple[str, str, str], EnvKeys | None] = {}
        self._decryptors: dict[tuple[str, str], Decryptor] = {}
        # A value's fingerprint is asked for twice in a walk: as the new value
        # of one commit and the old value of the next. Bounded, for flat memory.
        # With each, why no writer could have stored the value (None: one could).
        self._fingerprints: OrderedDict[tuple[bytes, str, str, str, str],
                                        tuple[str, str | None]] = OrderedDict()
        self.unseals = 0
        # What the line recorded for a file's values (recorded_fingerprint), by those
        # values: commits that only seal seats again leave them, and each such commit is
        # a seat change in its member's walk (attack37 C1: a walk back each was quadratic).
        self._recorded: OrderedDict[tuple[str, frozenset[tuple[str, str]]],
                                    tuple[str, tuple[str, str, str] | None]] = OrderedDict()

    def keys(self, env: EnvFile) -> EnvKeys | None:
        """The environment's keys, or None if this identity cannot open them."""
        if self.identity is None:
            return None
        member = env.member_with_key(self.identity.public.openssh)
        if member is None:
            return None
        # Keyed by this identity's seal, not the key pair alone: the files from before a
        # grant share the key pair but not the seat, and a "cannot open" remembered from
        # them would skip every later file too (a member granted after the environment
        # was made would never check a fingerprint with his key).
        slot = (env.environment, env.public_key, member.sealed)
        if slot not in self._keys:
            self._keys[slot] = self._open(env, member)
        return self._keys[slot]

    def seat(self, env: EnvFile | None) -> Member | None:
        """This identity's seat in ``env``, if it holds one."""
        if self.identity is None or env is None:
            return None
        return env.member_with_key(self.identity.public.openssh)

    def refuses(self, env: EnvFile) -> bool:
        """Whether this identity holds a seat in ``env`` that its key does not open (sealed
        to another key): a member whose walk checked nothing there, though listed."""
        return self.seat(env) is not None and self.keys(env) is None

    def unlike_the_line(self, view: StoreView, parent: str, old: EnvFile,
                        new: EnvFile) -> str | None:
        """Why this identity's seat in ``new``, sealed at a commit on ``parent`` that kept
        ``old``'s key pair, cannot give the fingerprints the line was written with (the
        seat opens, but with another fingerprint key); None where it can, or nothing tells."""
        after = self.keys(new)
        if after is None:
            return None
        # The test: the fingerprint the line recorded for a value the file held, computed
        # with this seat over that very value (the commit may also change or drop it).
        found = self._recorded_for(view, parent, old)
        if found is None:
            # Nothing recorded (no values yet): a seat sealed again must at least keep
            # the fingerprint key this identity held; a first one cannot be told.
            before = self.keys(old)
            return "was sealed again with another fingerprint key" \
                if before is not None and before.fp_key != after.fp_key else None
        commit, name, recorded = found
        try:
            mine = self.fingerprint(new.with_values({**new.values, name: old.values[name]}),
                                    name)
        except (DecryptError, ValueError):
            return None  # the value itself is a finding where it was written
        if mine is None or mine == recorded:
            return None
        return f"opens with another fingerprint key than the one {commit[:10]} recorded " \
               f"{name}'s fingerprint with"

    def _recorded_for(self, view: StoreView, parent: str,
                      old: EnvFile) -> tuple[str, str, str] | None:
        """:func:`recorded_fingerprint` at ``parent``, remembered by the file's values: many
        commits that only seal seats again leave them as they are, and each is a seat
        change in its member's walk (attack37 C1: a walk back for each was quadratic). A
        remembered answer stands only where every commit since it kept those values and
        none was a repair (review19 R1: a value taken out and put back is another story),
        so the answer never depends on what this walk asked before."""
        slot = (old.environment, frozenset(old.values.items()))
        known = self._recorded.get(slot)
        if known is not None and _kept(view, known[0], parent, old):
            found = known[1]
        else:
            found = recorded_fingerprint(view, parent, old)
        self._recorded[slot] = (parent, found)
        self._recorded.move_to_end(slot)
        if len(self._recorded) > 64:
            self._recorded.popitem(last=False)
        return found

    def _open(self, env: EnvFile, member: Member) -> EnvKeys | None:
        self.unseals += 1
        try:
            return EnvKeys.unseal(member.sealed, self.identity, unb64(env.public_key, 32))
        except DecryptError:
            return None

    def plaintext(self, env: EnvFile, name: str) -> str | None:
        """Decrypt one value, or None without access; DecryptError if it is corrupt."""
        keys = self.keys(env)
        return None if keys is None else self._plaintext(env, keys, name)

    def _plaintext(self, env: EnvFile, keys: EnvKeys, name: str) -> str:
        slot = (env.environment, env.public_key)
        dec = self._decryptors.get(slot)
        if dec is None:
            dec = self._decryptors[slot] = Decryptor(keys, env.environment)
        return dec.decrypt(name, Ciphertext.parse(env.values[name]))

    def fingerprint(self, env: EnvFile, name: str) -> str | None:
        """The keyed fingerprint of one value, or None without access."""
        found = self._judged(env, name)
        return None if found is None else found[0]

    def unwritable(self, env: EnvFile, name: str) -> str | None:
        """Why no envtrail writer could have stored this value (a NUL, over the size
        limit): it was encrypted by hand to the public key. None: it could, or no access."""
        found = self._judged(env, name)
        return None if found is None else found[1]

    def _judged(self, env: EnvFile, name: str) -> tuple[str, str | None] | None:
        # One decryption answers both questions, asked of the same value in a row.
        # The token carries the format; the environment is part of a format 2 input.
        keys = self.keys(env)
        if keys is None:
            return None
        # By fingerprint key too: two seats of one key pair need not hold the same one
        # (attack36 N1: a walk reused what a forged seat had computed).
        slot = (keys.fp_key, env.environment, env.public_key, name, env.values[name])
        if slot in self._fingerprints:
            return self._fingerprints[slot]
        plain = self._plaintext(env, keys, name)
        try:
            check_value(plain)
            problem = None
        except UsageError as exc:
            problem = exc.message
        found = self._fingerprints[slot] = (
            keys.fingerprint(env.version, env.environment, name, plain), problem)
        if len(self._fingerprints) > 256:
            self._fingerprints.popitem(last=False)
        return found


# How far back a remembered record is checked before the line is searched again.
_KEPT_REACH = 64


def _kept(view: StoreView, since: str, head: str, env: EnvFile) -> bool:
    """Whether every commit after ``since`` up to ``head`` (a few at most) holds ``env``'s
    values and none claims a repair's clean point: what the line recorded for those
    values at ``since`` is then what it recorded at ``head``."""
    from envtrail.audit.repairs import CLEAN  # (repairs sits above the keyring)

    claimed = f"\n{PREFIX}{CLEAN}: "
    current: str | None = head
    for _ in range(_KEPT_REACH):
        if current == since:
            return True
        if current is None:
            return False
        try:
            info = view.git.info(current)
            here = view.env_at(current, env.environment)
        except (IntegrityError, KeyError):  # (the search says what is wrong there)
            return False
        if here is None or here.values != env.values or claimed in f"\n{info.message}":
            return False
        current = info.parents[0] if info.parents else None
    return False
