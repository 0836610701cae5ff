"""The per-commit rules of DESIGN section 7, each commit judged against its parent.

On the store line every commit has exactly one parent, and the parent's
state (signers, policy, members) is the one state the commit is judged
against. The walk over the line, the order, the time floor and the
acknowledgements of a repair live in :mod:`envtrail.audit.line`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from envtrail.audit import actions, repairs, signature
from envtrail.audit.effect import (
    WATCHED,
    Effect,
    EnvEffect,
    custody,
    foreign_seats,
    policy_rules,
    seated,
    signer_changes,
    signer_lines,
)
from envtrail.audit.history import parse_record, qualified
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView, value_diff
from envtrail.crypto.keys import box_twins
from envtrail.crypto.seal import FP_HEX_CHARS, DecryptError
from envtrail.errors import IntegrityError
from envtrail.format import layout, signers
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.repo import CommitInfo

# How far ahead of when this clone first saw it a commit may be dated (rule 7).
AHEAD = timedelta(minutes=10)

RULES = {
    1: "signature", 2: "actor", 3: "changes", 4: "policy", 5: "admin",
    6: "line", 7: "time", 8: "history", 9: "approvals",
}
# Actions whose commits change no path at all: they only put a signed marker on record.
# (An event is one too, but on its own line: audit.eventline judges those.)
MARKERS = frozenset({"approve"})


@dataclass(frozen=True)
class Finding:
    """One broken rule: which commit, which rule, and a one-line explanation."""

    commit: str
    rule: int
    message: str

    @property
    def rule_name(self) -> str:
        """The rule's short name."""
        return RULES[self.rule]

    def line(self) -> str:
        """``<commit> rule N (name): message``."""
        return f"{self.commit[:10]} rule {self.rule} ({self.rule_name}): {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"commit": self.commit, "rule": self.rule, "name": self.rule_name,
                "message": self.message}


class Verifier:
    """Checks single commits of one repository, sharing parsed files and opened keys."""

    def __init__(self, view: StoreView, keyring: Keyring | None = None) -> None:
        self.view = view
        self.keyring = keyring or Keyring(None)
        # Environments some change of which could not be checked with a key.
        self.unkeyed: set[str] = set()

    def check(self, info: CommitInfo, verdict: signature.Verdict | None = None,
              repair_clean: str | None = None) -> list[Finding]:
        """Findings of rules 1 to 6 for one commit (``verdict``: its signature, if known).

        Time (rule 7) and the line's shape beyond one commit are the walk's.
        """
        return self.check_record(info, parse_record(info), verdict, repair_clean)

    def check_record(self, info: CommitInfo, rec: Record | None,
                     verdict: signature.Verdict | None = None,
                     repair_clean: str | None = None) -> list[Finding]:
        """:meth:`check` for a commit whose record the caller already parsed (a walk does)."""
        # A commit git cannot read (re-encoded around its signature, say) is no line commit,
        # whatever envtrail could make of it.
        unreadable = [Finding(info.id, 6, why) for kind, why in info.flaws if kind == "shape"]
        return unreadable + self._check_record(info, rec, verdict, repair_clean)

    def _check_record(self, info: CommitInfo, rec: Record | None,
                      verdict: signature.Verdict | None,
                      repair_clean: str | None) -> list[Finding]:
        if len(info.parents) > 1:
            return [Finding(info.id, 6, f"a merge commit ({len(info.parents)} parents) on the "
                                        "store line; the line never has merges")]
        clean = None
        if rec is not None and rec.action == "repair":
            # Only the line walk can grant a repair its clean point (audit.line).
            if repair_clean is None:
                return [Finding(info.id, 3, "a repair that does not follow the findings it names "
                                            "(its clean point must be the last verified commit "
                                            "before them, and every commit since one of them)"),
                        *self._custody_changes(info)]
            clean = repair_clean  # so is its signature, when the caller did not check it
        try:
            verdict = verdict or signature.check(self.view, info, trust_at=clean)
        except IntegrityError as exc:  # the trusted allowed_signers cannot be read
            return [Finding(info.id, 1, exc.message)]
        if not verdict.good:
            what = "not an envtrail commit, " if rec is None else ""
            return [Finding(info.id, 1, f"{what}signature {verdict.status}"
                            f"{' (' + verdict.principal + ')' if verdict.principal else ''}"),
                    *self._custody_changes(info)]
        if rec is None:
            return [Finding(info.id, 6, "signed, but not an envtrail commit (no valid Envtrail "
                                        "trailers)")]
        if rec.action == "event":
            # Events live on refs/envtrail/events, where membership of their environment
            # and the store commit they follow are checked; on the store line one would
            # move the line (starving an apply) with none of that asked.
            return [Finding(info.id, 6, "an event commit on the store line (events belong on "
                                        "refs/envtrail/events)")]
        out = self._check_identity(info, rec, verdict)
        try:
            if clean is not None:
                out += repairs.check(self, info, rec, verdict, clean)
                out += self._check_shape(info)
            else:
                out += self._check_tree(info, rec, verdict)
        except IntegrityError as exc:
            out.append(Finding(info.id, 3, exc.message))
        return out

    # -- rule 2 ------------------------------------------------------------

    def _check_identity(self, info: CommitInfo, rec: Record,
                        signer: signature.Verdict) -> list[Finding]:
        out = []
        if rec.actor != signer.principal:
            out.append(Finding(info.id, 2, f"Envtrail-Actor {rec.actor!r} is not the signer "
                                           f"{signer.principal!r}"))
        for role, (name, email) in (("author", info.author), ("committer", info.committer)):
            if name != signer.principal or email != signer.principal:
                out.append(Finding(info.id, 2, f"the commit's {role} is not the signer "
                                               f"{signer.principal!r}"))
        return out

    # -- rules 3, 4, 5: judged by what the tree does -------------------------

    def _check_tree(self, info: CommitInfo, rec: Record,
                    signer: signature.Verdict) -> list[Finding]:
        out: list[Finding] = []
        git = self.view.git
        parent = info.parents[0] if info.parents else None
        differ = set(git.differing(parent, info.id, (*layout.STORE_PATHS, *layout.ADMIN_FILES)))
        changed = [p for p in layout.STORE_PATHS if p in differ]
        if git.other_entries_differ(parent, info.id, layout.STORE_PATHS):
            changed.append("files outside the store")
            out.append(Finding(info.id, 3, "changes files outside envs/ and .envtrail/"))
        if rec.action in MARKERS:
            if changed:
                out.append(Finding(info.id, 4, f"an {rec.action} commit changes "
                                               f"{', '.join(changed)}"))
            return out
        before, after = self.view.env_blobs(parent), self.view.env_blobs(info.id)
        actual: dict[str, dict[str, str]] = {}
        keyed_rules: list[str] = []
        effects: list[EnvEffect] = []
        for env in sorted(before.keys() | after.keys()):
            if before.get(env) == after.get(env):
                continue
            old = self.view.env_at(parent, env)
            new = self.view.env_at(info.id, env)
            ops = value_diff(old, new)
            if ops:
                actual[env] = ops
            effect = EnvEffect.between(env, old, new, ops)
            if effect.custody:
                keyed_rules.append(env)
            effects.append(effect)
            out.extend(self.check_values(info, rec, env, old, new, ops))
        claimed = {c.key: c.op for c in rec.changes}
        # (A repair, which names ENV:KEY across environments, is judged by audit.repairs.)
        if len(actual) > 1:
            out.append(Finding(info.id, 3, "changes values of several environments: "
                                           f"{', '.join(sorted(actual))}"))
        real = next(iter(actual.values()), {})
        if real != claimed:
            out.append(Finding(info.id, 3, _describe_mismatch(claimed, real)))
        touched = set(actual) | set(keyed_rules)
        if touched and not touched <= set(rec.environments):
            out.append(Finding(info.id, 3, "Envtrail-Environment does not name the environment "
                                           f"changed ({', '.join(sorted(touched))})"))
        admin_paths = [p for p in WATCHED if p in differ]
        moved = signer_changes(self.view.signers(parent), self.view.signers(info.id)) \
            if layout.SIGNERS in admin_paths and rec.action in actions.SIGNER_LINES else ()
        lined = rec.action in actions.SIGNER_LINES
        out.extend(Finding(info.id, 3, why) for why in actions.disagreements(
            rec, Effect(tuple(admin_paths), tuple(effects), moved,
                        seated(self.view, info.id)
                        if moved or lined or rec.extra_value("Signer-Expired") else frozenset(),
                        policy_rules(self.view, parent, info.id)
                        if layout.POLICY in admin_paths else None,
                        signer_lines(self.view, info.id) if lined else ()),
            parent is None))
        out.extend(Finding(info.id, 7, why) for why in actions.bounds_not_at(
            moved, info.committer_time))
        if parent is not None:
            out.extend(self._check_policy(info, rec, signer, parent, actual, keyed_rules,
                                          admin_paths))
        if layout.SIGNERS in admin_paths:
            # Lines envtrail reads but that contradict each other (a key twice,
            # two keys of one principal at once) are findings, not read errors.
            lines = self.view.signers(info.id)
            out.extend(Finding(info.id, 1, f"allowed_signers: {problem}")
                       for problem in signers.problems(lines))
            out.extend(Finding(info.id, 1, f"allowed_signers: the keys of {a} and {b} open "
                                           "the same sealed boxes")
                       for a, b in box_twins([(s.principal, s.key) for s in lines]))
        if layout.POLICY in admin_paths:
            try:  # unreadable, it would only fail the next commit, or none at the head
                self.view.policy(info.id)
            except IntegrityError as exc:
                out.append(Finding(info.id, 3, exc.message))
        if (admin_paths or keyed_rules) and not signer.admin:
            what = ", ".join(admin_paths + [f"members or keys of {e}" for e in keyed_rules])
            out.append(Finding(info.id, 5, f"{signer.principal} is not an admin but changed {what}"))
        out.extend(Finding(info.id, 5, why) for why in foreign_seats(self.view, info.id, effects))
        for env in keyed_rules:
            # Only someone who could open the old key pair may hand out or replace
            # its custody: an admin of another environment cannot seat themselves.
            before_env = self.view.env_at(parent, env)
            if before_env is not None and before_env.member_with_key(signer.key or "") is None:
                out.append(Finding(info.id, 5, f"{signer.principal} changed the members or keys "
                                               f"of {env} without being a member of it"))
        out.extend(self._check_shape(info))
        return out

    def _custody_changes(self, info: CommitInfo) -> list[Finding]:
        """What an unauthenticated commit did to signers, policy, members or keys, so that
        whoever reviews it (and any repair) sees it, whatever its trailers claim."""
        what = custody_changes(self.view, info.parents[0] if info.parents else None, info.id)
        return [Finding(info.id, 5, f"unauthenticated change to {', '.join(what)}")] if what else []

    def _check_shape(self, info: CommitInfo) -> list[Finding]:
        """The store holds only its known files, each a plain file: nothing else may ride along."""
        problems = self.view.git.shape_problems(info.id, layout.STORE_DIR, layout.ADMIN_FILES,
                                                layout.ENVS, layout.ATTRIBUTES)
        return [Finding(info.id, 3, p) for p in problems]

    def _check_policy(self, info: CommitInfo, rec: Record, signer: signature.Verdict,
                      parent: str, actual: dict[str, dict[str, str]], keyed: list[str],
                      admin_paths: list[str]) -> list[Finding]:
        """Rule 4 as the writers enforce it: an environment's rules bind changes to its
        values and to who holds its key (a grant, revoke or rotation of an environment
        that existed); a store-wide change needs a reason unless the defaults waive it."""
        out = []
        policy = self.view.policy(parent)
        existing = [e for e in keyed if self.view.env_at(parent, e) is not None]
        for env in sorted({*actual, *existing}):
            broken = policy.violation(env, signer.principal or "", signer.admin, rec.reason)
            if broken:
                out.append(Finding(info.id, 4, broken))
        if admin_paths and policy.defaults.require_reason and not rec.reason:
            out.append(Finding(info.id, 4, f"changes {', '.join(admin_paths)} with no reason"))
        for env in sorted(actual):
            before_env = self.view.env_at(parent, env)
            if before_env is not None and before_env.member_with_key(signer.key or "") is None:
                out.append(Finding(info.id, 4, f"{signer.principal} changed {env} without being "
                                               "a member of it"))
        return out

    def check_values(self, info: CommitInfo, rec: Record, env: str, old: EnvFile | None,
                      new: EnvFile | None, ops: dict[str, str]) -> list[Finding]:
        """Fingerprints are never ``?``; with a key, each is recomputed and each new value
        must decrypt; a new key pair re-encrypts every value to its previous plaintext."""
        out = []
        for change in rec.changes:
            if "?" in (change.old_fp, change.new_fp):
                out.append(Finding(info.id, 3, f"{change.key}: fingerprint '?' (not computed)"))
        rotated = old is not None and new is not None and old.public_key != new.public_key
        if rotated and set(old.values) != set(new.values):
            out.append(Finding(info.id, 5, f"{env}: a new key pair that adds or drops variables"))
        if rotated and any(old.values[k] == new.values.get(k) for k in old.values):
            out.append(Finding(info.id, 5, f"{env}: a new key pair leaves values encrypted to "
                                           "the old one"))
        if old is not None and new is not None and old.version != new.version and \
                not (rotated and new.version > old.version):
            # Format 2 only comes with a new key pair; going back would bring back
            # 48-bit fingerprints that can be ground.
            out.append(Finding(info.id, 5, f"{env}: format {old.version} -> {new.version} "
                                           "without a rotation to a newer format"))
        for name in ops:
            claim = next((c for c in rec.changes if c.key == qualified(rec, env, name)), None)
            for fp, side in ((claim.old_fp, old), (claim.new_fp, new)) if claim else ():
                if fp not in (None, "?") and side is not None and \
                        len(fp) != FP_HEX_CHARS[side.version]:
                    # Checked without a key: a short fingerprint in a format 2 file
                    # would make grinding a collision feasible again.
                    out.append(Finding(info.id, 3, f"{claim.key}: fingerprint {fp} is not "
                                                   f"{FP_HEX_CHARS[side.version]} hex digits "
                                                   f"(format {side.version})"))
        seat = self.keyring.seat(new)
        if seat is not None and (rotated or seat != self.keyring.seat(old)):
            # attack24 U1: a seat sealed to another key (or kept from the old key pair, so
            # it opens to the wrong one: attack25 V1) blinds its member, so that a later
            # rotation nobody else can open both sides of hides a change of value; one
            # that opens with another fingerprint key (attack36 F1) makes every honest
            # change look like a lie to its member, and their own writes to everyone
            # else. Only that member's walk can tell; it is no state envtrail writes.
            if self.keyring.refuses(new):
                out.append(Finding(info.id, 5, f"{env}: {seat.principal}'s seat does not "
                                               "open with their key to this key pair"))
            elif not rotated and old is not None and new is not None:
                # (A rotation's own fingerprints are checked with the new seat below.)
                unlike = self.keyring.unlike_the_line(self.view, info.parents[0], old, new)
                if unlike:
                    out.append(Finding(info.id, 5, f"{env}: {seat.principal}'s seat {unlike}"))
        if not ops:
            return out
        opens_old = old is None or self.keyring.keys(old) is not None
        opens_new = new is None or self.keyring.keys(new) is not None
        if not (opens_old and opens_new):
            self.unkeyed.add(env)
            return out
        by_key = {c.key: c for c in rec.changes}
        for name, op in sorted(ops.items()):
            try:
                old_fp = self.keyring.fingerprint(old, name) if op in "~-" and old else None
                new_fp = self.keyring.fingerprint(new, name) if op in "~+" and new else None
                if rotated and op == "~" and \
                        self.keyring.plaintext(old, name) != self.keyring.plaintext(new, name):
                    out.append(Finding(info.id, 5, f"{env}: {name} changed value under a new key "
                                                   "pair (a rotation re-encrypts, never changes)"))
                unwritable = self.keyring.unwritable(new, name) if op in "~+" and new else None
            except (DecryptError, ValueError):
                out.append(Finding(info.id, 3, f"{env}: {name}: ciphertext does not authenticate"))
                continue
            if unwritable:
                out.append(Finding(info.id, 3, f"{env}: {name}: {unwritable}"))
            claim = by_key.get(qualified(rec, env, name))
            if claim is None or claim.op != op:
                continue  # the trailer mismatch is reported once, by name
            for which, said, real in (("old", claim.old_fp, old_fp), ("new", claim.new_fp, new_fp)):
                if real is not None and said != real:
                    out.append(Finding(info.id, 3, f"{name}: {which} fingerprint {said} does not "
                                                   f"match the value ({real})"))
        return out


def custody_changes(view: StoreView, parent: str | None, commit: str) -> list[str]:
    """What ``commit`` did to signers, policy, config, members or keys, judged by its tree
    whatever its trailers claim (a genesis, with no parent, creates all of them)."""
    what = view.git.differing(parent, commit, WATCHED)
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    for env in sorted(before.keys() | after.keys()):
        if before.get(env) == after.get(env):
            continue
        try:
            if custody(view.env_at(parent, env)) != custody(view.env_at(commit, env)):
                what.append(f"members or keys of {env}")
        except IntegrityError:
            what.append(f"{env} (unreadable)")
    return what


def _describe_mismatch(claimed: dict[str, str], real: dict[str, str]) -> str:
    missing = sorted(k for k in real if k not in claimed)
    extra = sorted(k for k in claimed if k not in real)
    wrong = sorted(k for k in real if k in claimed and claimed[k] != real[k])
    parts = []
    if missing:
        parts.append(f"trailers omit {', '.join(missing)}")
    if extra:
        parts.append(f"trailers name unchanged {', '.join(extra)}")
    if wrong:
        parts.append(", ".join(f"{k} is {real[k]} not {claimed[k]}" for k in wrong))
    return "Envtrail-Change trailers differ from the file: " + "; ".join(parts)
