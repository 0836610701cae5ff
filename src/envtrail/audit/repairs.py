"""What a ``repair`` commit may do: put back the line's last verified state, nothing else.

A repair names the clean point it restores (``Envtrail-Repair-Clean``: the
parent of the first finding it acknowledges). Its signature is judged by the
signers at that point, not by the parent's possibly forged file, and its tree
must equal the clean point's: signers, policy, settings, members and key
pairs exactly, and each environment's values too, unless ``Repair-From``
names an earlier line commit whose values it re-encrypts under the clean
point's keys. Its ``Envtrail-Change`` trailers describe what differs from the
clean point, so they can be checked against a state that verified.

Whether a repair may be judged by its clean point at all is the line walk's
decision (audit.line): the point must be verified and untainted, and every
commit since it a finding the repair names, or an honest commit after the
first of them that it names as swept (``Envtrail-Sweeps``). Restoring the
clean point undoes a swept commit's value changes too, so only a commit that
changed values and nothing else may be swept (:func:`sweep_refusal`, which the
writer asks too): never a grant, revoke, rotation, signers, policy or config
change, nor another repair, whose undoing would reopen access or undo a
decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envtrail.audit import signature
from envtrail.audit.effect import custody
from envtrail.audit.history import parse_record
from envtrail.audit.record import Record
from envtrail.audit.view import value_diff
from envtrail.crypto.seal import DecryptError
from envtrail.errors import IntegrityError
from envtrail.format import layout
from envtrail.gitstore.repo import CommitInfo
from envtrail.model import ENV_NAME_RE

if TYPE_CHECKING:
    from datetime import datetime

    from envtrail.audit.verify import Finding, Verifier
    from envtrail.audit.view import StoreView

CLEAN = "Repair-Clean"
FROM = "Repair-From"
ACK = "Acknowledges"
SWEEPS = "Sweeps"
# An event of refs/envtrail/events and a rule (audit.eventline judges it): 7, dated
# ahead; 1 or 4, its signer no signer or member at the state current at its date.
EVENT_ACK = "Acknowledges-Event"
EVENT_RULES = ("1", "4", "7")
_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def acknowledged(rec: Record) -> set[tuple[str, str]]:
    """(commit, rule) pairs a repair record acknowledges."""
    out = set()
    for key, value in rec.extra:
        if key == ACK:
            commit, _, rule = value.partition(" ")
            out.add((commit, rule.strip()))
    return out


def event_acks(rec: Record) -> set[tuple[str, str]]:
    """The (event, rule) pairs a repair record acknowledges on the events line
    (well-formed ones only: ``check`` makes any other a finding of the repair)."""
    out = set()
    for key, value in rec.extra:
        commit, _, rule = value.partition(" ")
        if key == EVENT_ACK and _ID.fullmatch(commit) and rule in EVENT_RULES:
            out.add((commit, rule))
    return out


def swept(rec: Record) -> tuple[str, ...]:
    """The honest commits a repair record names as swept (their changes undone with it)."""
    return tuple(value.strip() for key, value in rec.extra if key == SWEEPS)


def sweep_refusal(view, commit: str) -> str | None:
    """Why a repair may not sweep ``commit`` (None: it may): it must be an envtrail commit,
    no repair, that changed values of existing environments and nothing else, judged by
    its tree against its parent whatever its trailers say. Restoring the clean point
    would otherwise also undo a membership, key, signer, policy or config change."""
    git = view.git
    info = git.info(commit)
    rec = parse_record(info)
    if rec is None or len(info.parents) != 1:
        return "it is no envtrail commit"
    if rec.action == "repair":
        return "it is a repair"
    parent = info.parents[0]
    for path in (layout.STORE_DIR, layout.ATTRIBUTES):
        if git.entry_id(parent, path) != git.entry_id(commit, path):
            return f"it changes {path}"
    if git.other_entries_differ(parent, commit, layout.STORE_PATHS):
        return "it changes files outside envs/ and .envtrail/"
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    if set(before) != set(after):
        return "it adds or removes an environment"
    for env in sorted(e for e in before if before[e] != after[e]):
        try:
            old, new = view.env_at(parent, env), view.env_at(commit, env)
        except IntegrityError:
            return f"{env} cannot be read there"
        if custody(old) != custody(new) or old is None or new is None \
                or old.version != new.version:
            return f"it changes the members or keys of {env}"
    return None


def undo_refusal(view, commit: str, author: str | None, reason: str) -> str | None:
    """Why a repair by ``author`` giving ``reason`` may not sweep ``commit`` (None: it
    may): a reason of :func:`sweep_refusal`, or a change of an environment whose policy
    wanted approvals for it, of which ``author`` was no member, or whose ``writers`` or
    reason rules the repair breaks. The undoing is restoring files, which needs neither
    a key nor approvals: so an approved change is never taken back on one admin's word,
    nor a change by an admin who could not have made it, nor one a rollback by the same
    admin with the same reason would be refused."""
    why = sweep_refusal(view, commit)
    if why is not None:
        return why
    parent = view.git.info(commit).parents[0]
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    for env in sorted(e for e in before if before[e] != after[e]):
        if view.policy(parent).rule_for(env).approvals:
            return f"it changes {env}, where a change needs approvals"
        state = view.env_at(parent, env)
        if author is None or state is None or author not in state.members:
            return f"it changes {env}, of which the repair's author is no member"
        # A repair is an admin's (rule 5 otherwise), so admin-only writers rules pass.
        broken = view.policy(parent).violation(env, author, True, reason)
        if broken:
            return f"it changes {env}, and the repair breaks the policy there ({broken})"
    return None


@dataclass(frozen=True)
class SweepPlan:
    """What a repair goes back over besides the findings this walk has pending."""

    swept: tuple[str, ...] = ()  # honest value changes it undoes, oldest first
    # (commit, rule) it acknowledges that this walk cannot see: rule 3 in an environment
    # it has no key to (a lying fingerprint only a keyed walk sees), rule 7 on a commit
    # dated after every one before it that the repair does not name for rule 7 (ahead
    # only for a clone that met it early).
    unseen: tuple[tuple[str, str], ...] = ()
    # Commits this walk found dated before the time floor only because of a commit the
    # repair names as dated ahead: measured without it, as the clone that met it early
    # measured them, they are not behind at all (the walk drops those findings).
    settled: tuple[str, ...] = ()


def sweep_plan(view: StoreView, between: list[str], named: set[tuple[str, str]],
               pending: set[tuple[str, str]], author: str | None, *, reason: str,
               unchecked: Callable[[str], bool] = lambda commit: False,
               behind: frozenset[str] = frozenset()) -> SweepPlan | None:
    """The commits a repair must name as swept, given the commits from its clean point
    up to it (``between``), the (commit, rule) pairs it acknowledges and the findings
    pending; None when no repair with those acknowledgements may go back over them.
    ``author``, ``reason``: the repair's (see :func:`undo_refusal`). ``unchecked``: whether this
    walk could not check a commit's fingerprints (no key). ``behind``: the commits whose
    only pending time finding is "committer time goes backwards".
    The one rule both ``repair`` and the walk apply, so that every clone agrees."""
    sweeps: list[str] = []
    unseen: list[tuple[str, str]] = []
    settled: list[str] = []
    acked = False
    # The line's time floor as the repair leaves it: the clean point's date (no later
    # commit before it counts: it would be a finding there) and every commit since that
    # the repair does not name for rule 7.
    floor = _parent_time(view, between[0]) if between else None
    for commit in between:
        rules = {rule for c, rule in named if c == commit}
        found = {rule for c, rule in pending if c == commit}
        when = view.git.info(commit).committer_time
        # A clone that met this commit over 10 minutes before its date had met every
        # commit before it no later, and found each it did not find ahead dated at most
        # 10 minutes after it met it: so, before this one. Dated after that floor is
        # what every such sighting leaves on the line, and all that it leaves: a parent
        # itself a few minutes fast (no finding anywhere) may be a second before it.
        dated_ahead = floor is not None and when > floor
        if commit in behind and "7" in found and "7" not in rules \
                and (floor is None or when >= floor):
            # Behind only a date the repair names as ahead, which the clone that met it
            # early never counted: there it was no finding, and the repair settles it.
            found.discard("7")
            settled.append(commit)
        if "7" not in rules:
            floor = when if floor is None else max(floor, when)
        # Every rule a repair names must be one this walk found there, or one it cannot
        # find: a lying fingerprint where it has no key (rule 3; on a change of values
        # only, so a keyless clone never takes back a revoke or a grant on an admin's
        # word), or a date ahead only a clone that met the commit early saw (rule 7; on a
        # commit dated after the floor above, which every clone reads alike and the
        # repair's author cannot choose). A record naming more would show a finding no
        # walk made.
        unseen_here = [r for r in sorted(rules - found) if
                       (r == "3" and unchecked(commit) and sweep_refusal(view, commit) is None)
                       or (r == "7" and dated_ahead)]
        if rules and rules - found == set(unseen_here):
            # A date is the signer's word, never authority: a commit whose only finding
            # is its date is gone back over only where a sweep could undo it, so no
            # access, policy or approved decision is undone for a clock.
            if rules | found <= {"7"} and undo_refusal(view, commit, author, reason) is not None:
                return None
            unseen += [(commit, r) for r in unseen_here]
            acked = True  # what was written on it is undone with it: swept, and named
            continue
        # An honest change written on a forged state after the first finding: restoring
        # the clean point undoes it, which only a change of values may suffer.
        if acked and not rules and not found \
                and undo_refusal(view, commit, author, reason) is None:
            sweeps.append(commit)
            continue
        return None
    return SweepPlan(tuple(sweeps), tuple(unseen), tuple(settled))


def _parent_time(view, commit: str) -> datetime | None:
    """The committer time of ``commit``'s parent (None for a root)."""
    info = view.git.info(commit)
    return view.git.info(info.parents[0]).committer_time if info.parents else None


def signature_state(view, info: CommitInfo, rec: Record | None) -> str | None:
    """Where a repair's signature is judged (its parent may be the forged commit it
    undoes): its clean point, when that is a commit of the line before it. None for
    any other commit, judged at its parent; the line walk checks the rest of a repair."""
    if rec is None or rec.action != "repair" or not info.parents:
        return None
    clean = rec.extra_value(CLEAN)
    if clean is None or not _ID.fullmatch(clean) or not view.git.has_commit(clean):
        return None
    return clean if view.git.first_parents(info.parents[0], clean)[1] else None


def admin_at_newest(view, info: CommitInfo, rec: Record, signer: signature.Verdict,
                    clean: str) -> bool:
    """Whether the signer is still an admin with this key at the newest verified commit a
    repair dated before it sweeps (its signature is judged at the clean point, so a key
    an admin had then and a revocation since closed would otherwise repair its way back)."""
    from envtrail.audit.approvals import rule_states

    newest = rule_states(view, info, rec)[-1]
    if newest == clean:
        return True
    at = view.git.info(newest).committer_time
    return any(s.principal == signer.principal and s.key == signer.key and s.admin
               and s.valid_at(at) for s in view.signers(newest))


def check(verifier: Verifier, info: CommitInfo, rec: Record, signer: signature.Verdict,
          clean: str) -> list[Finding]:
    """Findings for a repair commit judged against its clean point."""
    from envtrail.audit.verify import Finding

    view, git = verifier.view, verifier.view.git
    out: list[Finding] = []
    if not signer.admin:
        out.append(Finding(info.id, 5, f"{signer.principal} is not an admin but made a repair"))
    elif not admin_at_newest(view, info, rec, signer, clean):
        out.append(Finding(info.id, 5, f"{signer.principal} is no admin with that key at the "
                                       "newest verified commit the repair goes back over"))
    named = sum(1 for key, _ in rec.extra if key == EVENT_ACK)
    if named != len(event_acks(rec)):
        out.append(Finding(info.id, 3, f"an Envtrail-{EVENT_ACK} trailer that is not an event "
                                       "commit id and rule 1, 4 or 7, or names one twice"))
    source = rec.extra_value(FROM) or clean
    if not _ID.fullmatch(source) or not git.first_parents(clean, source)[1]:
        return [*out, Finding(info.id, 3, "Repair-From is not a line commit at or before the "
                                          "clean point")]
    for path in (layout.STORE_DIR, layout.ATTRIBUTES, *((layout.ENVS,) if source == clean else ())):
        if git.entry_id(info.id, path) != git.entry_id(clean, path):
            out.append(Finding(info.id, 3, f"a repair leaves {path} different from the clean "
                                           f"point {clean[:10]}"))
    if git.other_entries_differ(clean, info.id, layout.STORE_PATHS):
        out.append(Finding(info.id, 3, "a repair changes files outside envs/ and .envtrail/"))
    now, then = view.env_blobs(info.id), view.env_blobs(clean)
    if set(now) != set(then):
        out.append(Finding(info.id, 3, "a repair's environments differ from the clean point's"))
    parent = view.env_blobs(info.parents[0] if info.parents else None)
    unnamed = sorted(e for e in parent.keys() | now.keys() if parent.get(e) != now.get(e)
                     and ENV_NAME_RE.fullmatch(e) and e not in rec.environments)
    if unnamed:  # `log --env` goes by the names: an unnamed restore would hide there
        out.append(Finding(info.id, 3, f"a repair restores {', '.join(unnamed)} without "
                                       "naming it in Envtrail-Environment"))
    claimed = {c.key: c.op for c in rec.changes}
    real: dict[str, str] = {}
    policy = view.policy(clean)
    for env in sorted(set(now) & set(then)):
        if now[env] == then[env]:
            continue
        if source == clean:
            out.append(Finding(info.id, 3, f"a repair leaves {env} different from the clean "
                                           f"point {clean[:10]}"))
            continue
        old, new = view.env_at(clean, env), view.env_at(info.id, env)
        if custody(old) != custody(new):
            out.append(Finding(info.id, 3, f"a repair changes the members or keys of {env}"))
            continue
        ops = value_diff(old, new)
        real.update({f"{env}:{k}": op for k, op in ops.items()})
        broken = policy.violation(env, signer.principal or "", signer.admin, rec.reason)
        if broken:
            out.append(Finding(info.id, 4, broken))
        if old is not None and old.member_with_key(signer.key or "") is None:
            out.append(Finding(info.id, 4, f"{signer.principal} restored values of {env} "
                                           "without being a member of it"))
        out.extend(verifier.check_values(info, rec, env, old, new, ops))
        out.extend(_same_as_source(verifier, info, env, new, view.env_at(source, env)))
    if real != claimed:
        out.append(Finding(info.id, 3, "a repair's Envtrail-Change trailers do not describe how "
                                       "it differs from the clean point"))
    return out


def _same_as_source(verifier: Verifier, info: CommitInfo, env: str, new, source) -> list[Finding]:
    """With a key: the restored values are exactly those at Repair-From."""
    from envtrail.audit.verify import Finding

    keyring = verifier.keyring
    if new is None or source is None or keyring.keys(new) is None or keyring.keys(source) is None:
        return []
    try:
        restored = {k: keyring.plaintext(new, k) for k in new.values}
        wanted = {k: keyring.plaintext(source, k) for k in source.values}
    except (DecryptError, ValueError, IntegrityError):
        return [Finding(info.id, 3, f"{env}: a restored value does not decrypt")]
    if restored != wanted:
        return [Finding(info.id, 3, f"{env}: the restored values are not those of Repair-From")]
    return []
