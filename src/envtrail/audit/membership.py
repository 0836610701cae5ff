"""Who could read each environment, and when, rebuilt from history (no key needed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from envtrail.audit.acknowledgements import Acknowledgement
from envtrail.audit.credit import Credits
from envtrail.audit.history import parse_record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.repo import CommitInfo

if TYPE_CHECKING:
    from envtrail.audit.keyring import Keyring


@dataclass
class Period:
    """One stretch of membership of one principal in one environment."""

    environment: str
    principal: str
    granted_at: datetime
    granted_by: str | None
    granted_why: str
    granted_commit: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoked_why: str | None = None
    revoked_commit: str | None = None
    # ``granted_by`` (``revoked_by``) signed that commit; else only its record claims so.
    granted_verified: bool = True
    revoked_verified: bool | None = None
    # A grant (revoke) that a repair acknowledged as a finding: nobody verified it.
    granted_acknowledged: Acknowledgement | None = None
    revoked_acknowledged: Acknowledgement | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        out: dict[str, object] = {}
        for k, v in self.__dict__.items():
            if k.endswith("_acknowledged"):
                v = v.as_dict() if v is not None else None
            out[k] = v.isoformat() if isinstance(v, datetime) else v
        return out


def _chronological(view: StoreView, head: str) -> list[CommitInfo]:
    # Oldest first; membership is a story told forwards. Only commits that
    # touch envs/ are kept, as small metadata records.
    return list(reversed(list(view.git.walk_touching(head, ("envs",)))))


def periods(view: StoreView, head: str | None,
            tainted: frozenset[str] = frozenset()) -> list[Period]:
    """Every membership period of the verified line up to ``head``, in the order they
    began; a grant or revoke in ``tainted`` (what the line's repairs acknowledged) is
    credited by its signature and marked as an acknowledged finding."""
    if head is None:
        return []
    out: list[Period] = []
    open_: dict[tuple[str, str], Period] = {}
    credits = Credits(view, head, tainted)
    for info in _chronological(view, head):
        rec = parse_record(info)
        credit = credits.of(info, rec)
        actor = credit.actor
        why = rec.reason if rec else info.message.split("\n", 1)[0]
        parent = info.parents[0] if info.parents else None
        before, after = view.env_blobs(parent), view.env_blobs(info.id)
        for env in sorted(before.keys() | after.keys()):
            if before.get(env) == after.get(env):
                continue
            old, new = _members(view, parent, env), _members(view, info.id, env)
            for principal in sorted(new - old):
                p = Period(env, principal, info.committer_time, actor, why, info.id,
                           granted_verified=credit.verified,
                           granted_acknowledged=credit.finding)
                open_[(env, principal)] = p
                out.append(p)
            for principal in sorted(old - new):
                p = open_.pop((env, principal), None)
                if p is not None:
                    p.revoked_at, p.revoked_by = info.committer_time, actor
                    p.revoked_why, p.revoked_commit = why, info.id
                    p.revoked_verified, p.revoked_acknowledged = credit.verified, credit.finding
    return out


def _members(view: StoreView, commit: str | None, env: str) -> set[str]:
    try:
        f = view.env_at(commit, env)
    except IntegrityError:
        return set()
    return set(f.members) if f else set()


@dataclass
class Exposure:
    """What one principal could decrypt in one environment, and when they could."""

    environment: str
    variables: set[str] = field(default_factory=set)
    periods: list[Period] = field(default_factory=list)
    # Variables only a proposal held (pending, or pushed and withdrawn): never on the
    # line under a key pair the principal held, yet sealed to one, so just as readable.
    proposed: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"environment": self.environment, "variables": sorted(self.variables),
                "proposed": sorted(self.proposed),
                "periods": [p.as_dict() for p in self.periods]}


def exposure(view: StoreView, head: str | None, principal: str,
             proposals: Iterable[str] = ()) -> list[Exposure]:
    """Every variable ``principal`` could ever read, per environment.

    A member holds the environment's private key, so they can read every value
    encrypted to that key pair, including values written before they joined
    and after they left until the next rotation. The report therefore counts
    all variables of every file version whose key pair was ever sealed to them.
    ``proposals``: the tips of the proposals this clone has (an approval changes
    nothing, so a tip holds its proposal's files); their values were encrypted to
    a key pair as well, and a member reads them with ``review --reveal``.
    """
    if head is None:
        return []
    sealed: dict[tuple[str, str], set[tuple[str, str]]] = {}
    line: dict[tuple[str, str], set[str]] = {}
    proposed: dict[tuple[str, str], set[str]] = {}
    seen_blobs: set[str] = set()
    for info in view.git.walk_touching(head, ("envs",)):
        _count(view, info.id, seen_blobs, sealed, line)
    for tip in proposals:
        try:
            _count(view, tip, seen_blobs, sealed, proposed)
        except IntegrityError:
            continue  # a ref whose tree holds no readable envs/: no proposal envtrail made
    held: dict[str, set[str]] = {}
    for (env, key), who in sealed.items():
        if any(p == principal for p, _ in who):
            held.setdefault(env, set()).add(key)
    mine = [p for p in periods(view, head) if p.principal == principal]
    report = []
    for env in sorted(held):
        exp = Exposure(env, periods=[p for p in mine if p.environment == env])
        for key in held[env]:
            exp.variables |= line.get((env, key), set())
            exp.proposed |= proposed.get((env, key), set())
        exp.proposed -= exp.variables
        report.append(exp)
    return report


def proposal_readers(view: StoreView, head: str,
                     proposal: str) -> dict[tuple[str, str], dict[str, set[str]]]:
    """Who could read what in ``proposal``'s environment files, by the rule of
    :func:`exposure` (its ``proposed`` part): (principal, their key) -> environment ->
    variables of each file under a key pair sealed to that key in the proposal or on the
    line to ``head`` (by key: a member re-granted with a new key after a lost laptop is
    still a reader with the old one)."""
    sealed: dict[tuple[str, str], set[tuple[str, str]]] = {}
    seen_blobs: set[str] = set()
    for info in view.git.walk_touching(head, ("envs",)):
        _count(view, info.id, seen_blobs, sealed, {})
    own: dict[tuple[str, str], set[str]] = {}
    _count(view, proposal, set(), sealed, own)  # its own files even where the line has them
    out: dict[tuple[str, str], dict[str, set[str]]] = {}
    for (env, key), variables in own.items():
        for reader in sealed.get((env, key), set()):
            out.setdefault(reader, {}).setdefault(env, set()).update(variables)
    return out


def value_readers(view: StoreView, head: str, environment: str, values: Mapping[str, str],
                  keyring: Keyring, proposals: Iterable[str] = ()) -> dict[str, set[tuple[str, str]]]:
    """For each variable of ``values`` (name -> plaintext), who (a principal and their key)
    could ever read that very value on the line to ``head``: everyone ever sealed to the
    key pair of a version of ``environment`` that held it, on the line or in one of the
    ``proposals`` (their tips: a declined grant sealed the key pair all the same). Each
    version is opened with ``keyring``, so a value put back by a rollback or revert is
    still the one it was; a version it cannot open holds the value where it only
    re-encrypted one that did (a rotation: verify holds it to the previous values, rule 5),
    and a version a rollback or revert wrote holds the value of the version it copied,
    through any number of such copies (attack24 U3, attack25 V4)."""
    from envtrail.audit.history import rekeys
    from envtrail.crypto.seal import DecryptError
    from envtrail.format.envfile import path_for

    versions: dict[str, list[_Version]] = {n: [] for n in values}
    sealed: dict[tuple[str, str], set[tuple[str, str]]] = {}
    seen_blobs: set[str] = set()
    touching = list(view.git.walk_touching(head, (path_for(environment),)))
    # Per variable: each version's index by its ciphertext, and which version each
    # restore copied (by index), so that what one holds the other does.
    index: dict[str, dict[str, int]] = {n: {} for n in values}
    copied: dict[str, dict[int, int]] = {n: {} for n in values}
    # Oldest first: a re-encryption holds what the version before it held.
    for info in reversed(touching):
        old = _readable(view, info.parents[0] if info.parents else None, environment)
        new = _readable(view, info.id, environment)
        source = _restored_from(view, info, environment)
        _count(view, info.id, seen_blobs, sealed, {})
        for name, plain in values.items():
            now = new.values.get(name) if new is not None else None
            was = old.values.get(name) if old is not None else None
            if now is None:
                continue  # absent or removed here: no version of it to judge
            if now != was or (versions[name] and versions[name][-1].holds is None):
                # A version this key could not open may open in a later file of the same
                # key pair: the member was granted since (a seat is per file).
                try:
                    opened = keyring.plaintext(new, name)  # type: ignore[arg-type]
                except (DecryptError, ValueError):
                    opened = None
                held = None if opened is None else opened == plain
                if now != was:
                    versions[name].append(_Version(new.public_key, held,  # type: ignore[union-attr]
                                                   was is not None and rekeys(old, new)))
                    at = index[name].setdefault(now, len(versions[name]) - 1)
                    origin = index[name].get(source.values.get(name, "")) if source else None
                    if origin is not None:
                        copied[name][at] = origin
                elif held is not None:
                    versions[name][-1] = replace(versions[name][-1], holds=held)
    pairs = {name: _holding(found, copied[name]) for name, found in versions.items()}
    for tip in proposals:
        _count(view, tip, seen_blobs, sealed, {})
    return {name: set().union(*(sealed.get((environment, key), set()) for key in keys))
            for name, keys in pairs.items()}


@dataclass(frozen=True)
class _Version:
    """One version of a variable: its file's key pair, whether it holds the value asked
    about (None: the key at hand cannot open it), and whether it only re-encrypted the
    version before it (a rotation)."""

    pair: str
    holds: bool | None
    rekeyed: bool


def _holding(versions: list[_Version], copied: Mapping[int, int]) -> set[str]:
    """The key pairs of the versions that held the value: those that open to it; along
    each run of re-encryptions, the ones before and after such a version that this key
    cannot open (a member who joined after a rotation opens only its side); and, both
    ways, a restore and the version it ``copied``, however many copies apart."""
    holds = [v.holds is True for v in versions]
    changed = True
    while changed:  # each pass only adds: it ends within len(versions) passes
        changed = False
        for i in range(1, len(versions)):  # forward: a re-encryption keeps what it read
            v = versions[i]
            if not holds[i] and v.holds is None and v.rekeyed and holds[i - 1]:
                holds[i] = changed = True
        for i in range(len(versions) - 1, 0, -1):  # back: what a re-encryption read held it
            if holds[i] and versions[i].rekeyed and not holds[i - 1]:
                holds[i - 1] = changed = True
        for copy, origin in copied.items():
            for a, b in ((copy, origin), (origin, copy)):
                if holds[a] and not holds[b] and versions[b].holds is not False:
                    holds[b] = changed = True
    return {v.pair for v, held in zip(versions, holds, strict=True) if held}


def _restored_from(view: StoreView, info: CommitInfo, environment: str) -> EnvFile | None:
    """The state whose values a rollback or revert put back (its signed word, read on the
    verified line: where it lies, it only names more readers)."""
    rec = parse_record(info)
    if rec is None or rec.action not in ("rollback", "revert"):
        return None
    named = rec.extra_value("Rollback-To" if rec.action == "rollback" else "Revert")
    try:
        target = view.git.info(named) if named else None
    except (KeyError, ValueError):  # not a commit of this clone
        return None
    if target is None:
        return None
    if rec.action == "revert":  # it put back what the reverted commit replaced
        return _readable(view, target.parents[0] if target.parents else None, environment)
    return _readable(view, target.id, environment)


def _readable(view: StoreView, commit: str | None, environment: str) -> EnvFile | None:
    """An environment file at a commit, None where it is absent or unreadable (a state a
    repair acknowledged may hold a malformed one)."""
    try:
        return view.env_at(commit, environment)
    except IntegrityError:
        return None


def _count(view: StoreView, commit: str, seen_blobs: set[str],
           sealed: dict[tuple[str, str], set[tuple[str, str]]],
           names: dict[tuple[str, str], set[str]]) -> None:
    """Note the variables of ``commit``'s environment files by key pair, and to whom (a
    principal and their key) each key pair is sealed there (a file version already
    counted is skipped): a principal reads every value of every file version under a key
    pair ever sealed to them."""
    for env, blob in view.env_blobs(commit).items():
        if blob in seen_blobs:
            continue
        seen_blobs.add(blob)
        try:
            f = view.env_file(blob, env)
        except IntegrityError:
            continue
        names.setdefault((env, f.public_key), set()).update(f.values)
        sealed.setdefault((env, f.public_key), set()).update(
            (p, m.key) for p, m in f.members.items())
