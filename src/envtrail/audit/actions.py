"""What each ``Envtrail-Action`` may change: the label must agree with the tree.

History, blame, log and revert read a commit by its action, and approvers see
it first; a value change labelled ``rotate``, or an admin line slipped into a
commit labelled ``policy``, would make every one of them tell a story the
tree does not. Each action here names what its writer in ``envtrail.ops``
changes and nothing more, so every honest commit agrees and a relabelled one
is a rule 3 finding ("the commit does not do what its record says").

``repair`` (audit.repairs), ``approve`` (a marker) and ``event`` (its own
line) are judged elsewhere and never reach these checks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from envtrail.audit.effect import Effect, EnvEffect, SignerChange
from envtrail.audit.record import Record
from envtrail.format import layout

# Actions that change values of one environment and nothing else ("merge" is what
# sync wrote before the line had no merges; only its values are left to judge).
VALUES = frozenset({"set", "unset", "import", "rollback", "revert", "merge"})
# Actions whose record names whose allowed_signers lines they may change.
SIGNER_LINES = frozenset({"grant", "revoke", "signers"})
_MEMBER = re.compile(r"([+-]) ?(\S+)")


def disagreements(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    """Ways the commit's tree does something other than its action says (empty: none)."""
    check = _CHECKS.get(rec.action)
    if check is None:
        return [f"unknown Envtrail-Action {rec.action!r}"]
    found = check(rec, effect, genesis)
    if rec.extra_value("Member") is not None and rec.action not in ("grant", "revoke"):
        found.append("it carries an Envtrail-Member")
    if rec.extra_value("Admin") is not None and rec.action != "signers":
        found.append("it carries an Envtrail-Admin")
    return [f"Envtrail-Action {rec.action}, but {why}" for why in found]


def _values(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    found = [f"it changes {', '.join(effect.files)}"] if effect.files else []
    found += [f"it changes the members or keys of {e.environment}"
              for e in effect.environments if e.custody]
    return found


def _init(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    """The genesis creates the store; later, ``env add`` creates the environments it names."""
    found = [f"it changes {', '.join(effect.files)}"] if effect.files and not genesis else []
    created = {e.environment for e in effect.environments if e.created}
    if created != set(rec.environments) or len(created) != len(effect.environments):
        found.append("the environments it creates are not those it names")
    found += [f"it sets values of {e.environment}" for e in effect.environments
              if e.values and not genesis]
    found += [f"it seats {', '.join(sorted(e.members - {rec.actor}))} in {e.environment}"
              for e in effect.environments if e.created and e.members - {rec.actor}]
    return found


def _custody(rec: Record, effect: Effect) -> tuple[EnvEffect | None, list[str]]:
    """The one existing environment a grant, revoke or rotate names, and what else it did."""
    named = rec.environments[0] if len(rec.environments) == 1 else None
    env = next((e for e in effect.environments if e.environment == named), None)
    found = [f"it changes {e.environment}, which it does not name"
             for e in effect.environments if e.environment != named]
    if env is None:
        found.append("it does not change the environment it names")
    elif env.created or env.removed:
        found.append(f"it {'creates' if env.created else 'removes'} {env.environment}")
        env = None
    return env, found


def _member(rec: Record, sign: str) -> str | None:
    m = _MEMBER.fullmatch(rec.extra_value("Member") or "")
    return m.group(2) if m and m.group(1) == sign else None


def _signers_only_of(effect: Effect, principal: str | None) -> list[str]:
    """allowed_signers may change (a grant adds the line, a revoke expires it), but only
    the lines of the principal the record names."""
    others = sorted({c.signer.principal for c in effect.signers} - {principal})
    return [f"it changes the allowed_signers lines of {', '.join(others)}"] if others else []


def _opens_only(effect: Effect, who: str | None) -> list[str]:
    """A grant adds the one line of a principal new to allowed_signers (or back with a
    new key, their old lines staying closed), or re-opens closed lines of the key it
    seats; never with the admin mark."""
    gone = [c.signer for c in effect.signers if c.op == "-" and c.signer.principal == who]
    came = [c.signer for c in effect.signers if c.op == "+" and c.signer.principal == who]
    if not gone and not came:
        return []
    if any(s.admin for s in came):  # admin rights come only by `access admin`, visibly
        return [f"it makes {who} an admin"]
    after = effect.lines_of(who)
    if not gone:
        # Someone new, or back with a new key while every old line stays closed.
        new = len(came) == 1 and came[0].valid_before is None and all(
            s.valid_before for s in after if s != came[0])
        return [] if new else [f"it adds allowed_signers lines to those {who} has"]
    if len(came) != len(gone) or any(s.valid_before is None for s in gone) or \
            any(s.valid_before is not None for s in came) or \
            sorted(s.key for s in came) != sorted(s.key for s in gone):
        return [f"it changes the allowed_signers lines of {who} other than by re-opening "
                "them"]
    return []


def bounds_not_at(moved: tuple[SignerChange, ...], when: datetime) -> list[str]:
    """Validity bounds a commit sets that are not its own time (DESIGN: a grant's or a
    revoke's valid-after/valid-before is that commit's time; a bound dated elsewhere would
    close a key in decades, or open it before the commit that granted it)."""
    found = []
    for c in moved:
        if c.op != "+":
            continue
        s = c.signer
        old = [o.signer for o in moved if o.op == "-" and o.signer.principal == s.principal
               and o.signer.key == s.key]
        for name, bound in (("valid-after", s.valid_after), ("valid-before", s.valid_before)):
            if bound is not None and bound != when and all(
                    (o.valid_after if name == "valid-after" else o.valid_before) != bound
                    for o in old):
                found.append(f"allowed_signers gives {s.principal} a {name} of "
                             f"{bound.isoformat()}, not the commit's own time")
    return found


def _files_but_signers(effect: Effect) -> list[str]:
    return [f"it changes {p}" for p in effect.files if p != layout.SIGNERS]


def _grant(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    env, found = _custody(rec, effect)
    who = _member(rec, "+")
    if who is None:
        found.append("its Envtrail-Member does not read '+ PRINCIPAL'")
    found += _files_but_signers(effect) + _signers_only_of(effect, who) + \
        _opens_only(effect, who)
    if env is None:
        return found
    if who in env.rekeyed:
        # Only a revoke and a new grant give a member another key: a grant that swaps
        # it hands their identity and seat to whoever holds the new key.
        found.append(f"it gives {who} another key in {env.environment}")
    if env.values:
        found.append(f"it changes values of {env.environment}")
    if env.new_key_pair:
        found.append(f"it replaces the key pair of {env.environment}")
    if env.dropped:
        found.append(f"it removes {', '.join(env.dropped)} from {env.environment}")
    others = sorted({*env.added, *env.rekeyed, *env.resealed} - {who})
    if others:
        found.append(f"it changes the membership of {', '.join(others)} in {env.environment}")
    if who is not None and who not in env.members:
        found.append(f"{who} is no member of {env.environment} after it")
    return found


def _revoke(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    env, found = _custody(rec, effect)
    who = _member(rec, "-")
    if who is None:
        found.append("its Envtrail-Member does not read '- PRINCIPAL'")
    expired = rec.extra_value("Signer-Expired")
    if expired is not None and expired != who:
        found.append("its Envtrail-Signer-Expired is not the member it removes")
    found += _files_but_signers(effect) + _signers_only_of(effect, who)
    closes = _closes(effect, who) if who is not None else False
    if closes is None:
        found.append(f"it changes the allowed_signers lines of {who} other than by closing "
                     "them")
    elif who is not None and closes != (expired is not None):
        # The trailer is what show and log tell: it must say exactly whether a key closed.
        found.append(f"it closes the key of {who} without an Envtrail-Signer-Expired" if closes
                     else "its Envtrail-Signer-Expired names a key it does not close")
    if closes is not False and who in effect.seated:
        # A revoke closes the key only of someone it leaves a member nowhere (as the
        # command and sync's replay both do): else it locks out a member it never removed.
        found.append(f"it closes the key of {who}, still a member of an environment")
    elif closes is False and who not in effect.seated and any(
            s.valid_before is None for s in effect.lines_of(who)):
        # As `access revoke` decides on its own head, and sync or redo on theirs: else
        # an offboarded person stays an allowed signer that nothing shows as departed.
        found.append(f"it leaves {who} a member nowhere but does not close their key")
    if env is None:
        return found
    found += _rekeying(env)
    others = sorted(set(env.dropped) - {who})
    if others:
        found.append(f"it also removes {', '.join(others)} from {env.environment}")
    if who is not None and who in env.members:
        found.append(f"{who} is still a member of {env.environment}")
    elif who is not None and who not in env.dropped and not closes:
        # A rotation labelled as a revoke would make log tell of a revocation that
        # never was (sync replays a revoke another clone already made as a rotate).
        found.append(f"it removes nobody: {who} was no member of {env.environment}")
    return found


def _closes(effect: Effect, who: str | None) -> bool | None:
    """Whether the commit closes ``who``'s open signer lines (each comes back as it was,
    with a valid-before) and does nothing else to them; None: it does something else."""
    gone = [c.signer for c in effect.signers if c.op == "-" and c.signer.principal == who]
    came = [c.signer for c in effect.signers if c.op == "+" and c.signer.principal == who]
    if not gone and not came:
        return False
    if len(gone) != len(came) or any(s.valid_before is not None for s in gone):
        return None
    for s in came:
        opened = replace(s, valid_before=None)
        if s.valid_before is None or opened not in gone:
            return None
        gone.remove(opened)
    return True


def _rotate(rec: Record, effect: Effect, genesis: bool) -> list[str]:
    env, found = _custody(rec, effect)
    found += [f"it changes {p}" for p in effect.files]
    if env is not None:
        found += _rekeying(env)
        if env.dropped:
            found.append(f"it removes {', '.join(env.dropped)} from {env.environment}")
    return found


def _rekeying(env: EnvEffect) -> list[str]:
    """A rotation (alone or in a revoke): a new key pair, sealed to the same members' keys.
    (That every value is re-encrypted to its old plaintext is rule 5's, in verify.)"""
    found = [] if env.new_key_pair else [f"it keeps the key pair of {env.environment}"]
    if env.added or env.rekeyed:
        found.append(f"it seats {', '.join(sorted({*env.added, *env.rekeyed}))} in "
                     f"{env.environment}")
    return found


def _store_file(path: str) -> Callable[[Record, Effect, bool], list[str]]:
    """An admin action that changes exactly one store-wide file."""

    def check(rec: Record, effect: Effect, genesis: bool) -> list[str]:
        found = [] if path in effect.files else [f"it does not change {path}"]
        found += [f"it changes {p}" for p in effect.files if p != path]
        found += [f"it changes {e.environment}" for e in effect.environments]
        if rec.action == "signers":
            found += _admin_mark(rec, effect)
        elif effect.policy_rules is not None:
            found += _policy_scope(rec, effect.policy_rules)
        return found

    return check


def _admin_mark(rec: Record, effect: Effect) -> list[str]:
    """``signers`` (``access admin``) re-marks one principal's lines, and nothing else."""
    m = _MEMBER.fullmatch(rec.extra_value("Admin") or "")
    if m is None:
        return ["its Envtrail-Admin does not read '+ PRINCIPAL' or '- PRINCIPAL'"]
    who, admin = m.group(2), m.group(1) == "+"
    found = _signers_only_of(effect, who)
    gone = [c.signer for c in effect.signers if c.op == "-" and c.signer.principal == who]
    came = [replace(c.signer, admin=not c.signer.admin) for c in effect.signers
            if c.op == "+" and c.signer.principal == who]
    if Counter(gone) != Counter(came):
        # Anything but the mark (a key, a validity bound) would re-open an offboarded
        # member's key or hand their name to another key under a harmless label.
        found.append(f"it changes the allowed_signers lines of {who} other than by their "
                     "admin mark")
    if any(c.op == "+" and c.signer.principal == who and c.signer.admin != admin
           for c in effect.signers):
        found.append(f"{who} is {'not ' if admin else ''}an admin after it")
    return found


def _policy_scope(rec: Record, changed: frozenset[str]) -> list[str]:
    """A policy commit that names environments (``policy set --env E``) changes their
    rules alone, as log and approvers read them from the record; one that names none
    (the defaults, or a file an admin wrote by hand) is a store-wide change."""
    if not rec.environments:
        return []
    others = sorted("the defaults" if e == "" else e for e in changed - set(rec.environments))
    return [f"it changes the policy of {', '.join(others)}"] if others else []


_CHECKS: dict[str, Callable[[Record, Effect, bool], list[str]]] = {
    **dict.fromkeys(VALUES, _values),
    "init": _init, "grant": _grant, "revoke": _revoke, "rotate": _rotate,
    "policy": _store_file(layout.POLICY), "signers": _store_file(layout.SIGNERS),
}
