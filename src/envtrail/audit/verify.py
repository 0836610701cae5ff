"""The verification rules of DESIGN section 7, one commit at a time.

Every rule needs only the commit and its parents, so a history can be
checked in one streaming pass and a verified prefix never needs re-checking:
reads check just the commits added since the last clean run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from envtrail.audit import signature
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record
from envtrail.audit.view import CONFIG, POLICY, SIGNERS, STORE_PATHS, StoreView, value_diff
from envtrail.crypto.seal import DecryptError
from envtrail.errors import IntegrityError
from envtrail.format.envfile import EnvFile
from envtrail.format.merge import merge_problems
from envtrail.gitstore.repo import CommitInfo

RULES = {
    1: "signature", 2: "actor", 3: "changes", 4: "policy", 5: "admin",
    6: "merge", 7: "time", 8: "history",
}


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
    """Checks commits of one repository, sharing parsed files and opened keys."""

    def __init__(self, view: StoreView, keyring: Keyring | None = None) -> None:
        self.view = view
        self.keyring = keyring or Keyring(None)
        self.checked = 0

    def walk(self, head: str, since: str | None = None,
             on_commit: Callable[[int], None] | None = None,
             parallel: bool = False) -> Iterator[Finding]:
        """Findings for every store commit reachable from ``head`` but not from ``since``.

        With ``parallel``, signatures are checked in a second process while this
        one checks everything else (worth it for long histories only).
        """
        infos = self.view.git.walk_touching(head, STORE_PATHS, hide=since)
        if parallel:
            from envtrail.audit.parallel import verdict_stream  # multiprocessing: only when used

            verdicts = verdict_stream(self.view.git.root, head, since)
        else:
            verdicts = itertools.repeat(None)
        try:
            # The verdicts never run out first: zip ends with the walk.
            for info, verdict in zip(infos, verdicts, strict=False):
                self.checked += 1
                yield from self.check(info, verdict)
                if on_commit is not None:
                    on_commit(self.checked)
        finally:
            if parallel:
                verdicts.close()  # type: ignore[union-attr]  # stops the child now

    def check(self, info: CommitInfo, verdict: signature.Verdict | None = None) -> list[Finding]:
        """All findings for one commit (``verdict``: its signature, if already checked)."""
        out: list[Finding] = []
        if info.parents:
            parent_time = self.view.git.info(info.parents[0]).committer_time
            if info.committer_time < parent_time:
                out.append(Finding(info.id, 7, "committer time is earlier than its parent's "
                                   f"({info.committer_time.isoformat()} < {parent_time.isoformat()})"))
        rec = parse_record(info)
        if len(info.parents) > 1 and (rec is None or rec.action != "merge"):
            out.extend(self._check_plain_merge(info))
            return out
        verdict = verdict or signature.check(self.view, info)
        if not verdict.good:
            what = "not made by envtrail, " if rec is None else ""
            out.append(Finding(info.id, 1, f"{what}signature {verdict.status}"
                               f"{' (' + verdict.principal + ')' if verdict.principal else ''}"))
            return out
        if rec is None:
            out.append(Finding(info.id, 3, "signed, but carries no valid Envtrail trailers"))
            return out
        if rec.actor != verdict.principal:
            out.append(Finding(info.id, 2, f"Envtrail-Actor {rec.actor!r} is not the signer "
                               f"{verdict.principal!r}"))
        out.extend(self._check_changes(info, rec, verdict))
        return out

    # -- rules 3, 4, 5 ---------------------------------------------------

    def _check_changes(self, info: CommitInfo, rec: Record,
                       signer: signature.Verdict) -> list[Finding]:
        out: list[Finding] = []
        parent = info.parents[0] if info.parents else None
        before, after = self.view.env_blobs(parent), self.view.env_blobs(info.id)
        actual: dict[str, dict[str, str]] = {}
        members_changed = []
        for env in sorted(before.keys() | after.keys()):
            if before.get(env) == after.get(env):
                continue
            try:
                old = self.view.env_at(parent, env)
                new = self.view.env_at(info.id, env)
            except IntegrityError as exc:
                out.append(Finding(info.id, 3, exc.message))
                continue
            if (old is None) != (new is None) or _membership(old) != _membership(new):
                members_changed.append(env)
            ops = value_diff(old, new)
            if ops:
                actual[env] = ops
            if new is not None and old is not None:
                out.extend(self._check_fingerprints(info, rec, old, new, ops))
        claimed = {c.key: c.op for c in rec.changes}
        merge = len(info.parents) > 1
        if merge and len(actual) > 1:
            # A merge may bring several environments at once; it names each
            # variable as environment:NAME then.
            real = {f"{env}:{k}": op for env, ops in actual.items() for k, op in ops.items()}
        else:
            if len(actual) > 1:
                out.append(Finding(info.id, 3, f"changes values of several environments: "
                                   f"{', '.join(sorted(actual))}"))
            real = next(iter(actual.values()), {})
        if real != claimed:
            out.append(Finding(info.id, 3, _describe_mismatch(claimed, real)))
        if actual and not set(actual) <= set(rec.environments):
            out.append(Finding(info.id, 3, "Envtrail-Environment does not name the environment "
                               f"changed ({', '.join(sorted(actual))})"))
        if merge:
            # What a merge brings was checked in the commits it merges; here it
            # only may not add anything of its own (rule 6).
            return out + self._check_merge_content(info, signed=True)
        policy = self.view.policy(parent if parent else info.id)
        for env in sorted(actual):
            broken = policy.violation(env, signer.principal or "", signer.admin, rec.reason)
            if broken:
                out.append(Finding(info.id, 4, broken))
            # Only a member holds the fingerprint key, so only a member can
            # write honest trailers; envtrail refuses others at write time.
            try:
                before_env = self.view.env_at(parent, env)
            except IntegrityError:
                before_env = None
            if before_env is not None and before_env.member_with_key(signer.key or "") is None:
                out.append(Finding(info.id, 4, f"{signer.principal} changed {env} without being "
                                               "a member of it"))
        git = self.view.git
        admin_paths = [] if git.entry_id(parent, ".envtrail") == git.entry_id(info.id, ".envtrail") \
            else [p for p in (SIGNERS, POLICY, CONFIG) if git.entry_id(parent, p) != git.entry_id(info.id, p)]
        if (admin_paths or members_changed) and not signer.admin:
            what = ", ".join(admin_paths + [f"members of {e}" for e in members_changed])
            out.append(Finding(info.id, 5, f"{signer.principal} is not an admin but changed {what}"))
        return out

    def _check_fingerprints(self, info: CommitInfo, rec: Record, old: EnvFile, new: EnvFile,
                            ops: dict[str, str]) -> list[Finding]:
        """With a member's key, recompute the fingerprints the trailers claim."""
        out = []
        for change in rec.changes:
            if ops.get(change.key) != change.op:
                continue
            try:
                pairs = []
                if change.op in "~-":
                    pairs.append(("old", change.old_fp, self.keyring.fingerprint(old, change.key)))
                if change.op in "~+":
                    pairs.append(("new", change.new_fp, self.keyring.fingerprint(new, change.key)))
            except (DecryptError, ValueError):
                out.append(Finding(info.id, 3, f"{change.key}: ciphertext does not authenticate"))
                continue
            for which, claimed, real in pairs:
                if real is not None and claimed != "?" and real != claimed:
                    out.append(Finding(info.id, 3, f"{change.key}: {which} fingerprint {claimed} "
                                       f"does not match the value ({real})"))
        return out

    # -- rule 6 ------------------------------------------------------------

    def _check_plain_merge(self, info: CommitInfo) -> list[Finding]:
        """A merge without an envtrail record may only combine what its parents had."""
        return self._check_merge_content(info, signed=False)

    def _check_merge_content(self, info: CommitInfo, signed: bool) -> list[Finding]:
        out = []
        git = self.view.git
        for path in (POLICY, CONFIG):
            mine = git.entry_id(info.id, path)
            if all(git.entry_id(p, path) != mine for p in info.parents):
                out.append(Finding(info.id, 6, f"merge changes {path} beyond both parents"))
        sig_lines = [{s.principal: s for s in self.view.signers(c)} for c in info.parents]
        for principal, line in {s.principal: s for s in self.view.signers(info.id)}.items():
            if all(lines.get(principal) != line for lines in sig_lines):
                out.append(Finding(info.id, 6, f"merge changes signer {principal} beyond both "
                                   "parents"))
        parents_blobs = [self.view.env_blobs(p) for p in info.parents]
        for env, blob in sorted(self.view.env_blobs(info.id).items()):
            if any(pb.get(env) == blob for pb in parents_blobs):
                continue
            try:
                mine = self.view.env_file(blob, env)
                theirs = [self.view.env_at(p, env) for p in info.parents]
            except IntegrityError as exc:
                out.append(Finding(info.id, 6, exc.message))
                continue
            problems = merge_problems(mine, theirs)
            if signed and any(t is not None and t.public_key != mine.public_key for t in theirs):
                # Merging a rotation re-encrypts the other side's changes under
                # the new key: new ciphertexts, same values. With a key, check so.
                problems = [p for p in problems if "introduces a value" not in p]
                problems += self._reencrypted_values_differ(mine, theirs)
            out.extend(Finding(info.id, 6, problem) for problem in problems)
        merged = self.view.env_blobs(info.id)
        for env in sorted(set.intersection(*(set(pb) for pb in parents_blobs)) - set(merged)):
            out.append(Finding(info.id, 6, f"merge deletes environment {env} that both parents have"))
        return out

    def _reencrypted_values_differ(self, mine: EnvFile,
                                   parents: list[EnvFile | None]) -> list[str]:
        out = []
        for name, token in sorted(mine.values.items()):
            if any(p is not None and p.values.get(name) == token for p in parents):
                continue
            try:
                plain = self.keyring.plaintext(mine, name)
                if plain is None:
                    continue  # no key: the signed merge vouches for it
                before = {self.keyring.plaintext(p, name) for p in parents
                          if p is not None and name in p.values}
            except (DecryptError, ValueError):
                out.append(f"{mine.environment}: {name} does not decrypt")
                continue
            if plain not in before:
                out.append(f"{mine.environment}: merge introduces a value of {name} that is in "
                           "neither parent")
        return out


def _membership(env: EnvFile | None) -> tuple:
    if env is None:
        return ()
    return tuple(sorted((p, m.key) for p, m in env.members.items()))


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
