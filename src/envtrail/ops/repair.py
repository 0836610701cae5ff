"""``repair``: an admin acknowledges the line's findings in one signed commit and
restores the affected environments' values, never members, signers or policy.

Nothing is rewritten: the findings stay on the line, visible in ``verify``,
``log`` and ``status`` with who acknowledged them and why, and ``verify
--strict`` keeps failing on them. Values are restored as ``rollback`` does,
re-encrypted for today's members with today's keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from envtrail.audit.line import ACK
from envtrail.audit.record import Record
from envtrail.audit.verify import Finding
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change, Secret, check_reason
from envtrail.ops.gate import Line, open_line
from envtrail.ops.rollback import target_values
from envtrail.ops.rules import require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, context_for, transact
from envtrail.ops.values import plan_values
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` acknowledged and restored, and the commit (None for a dry run)."""

    findings: tuple[Finding, ...]
    restored_from: str
    environments: tuple[str, ...]
    commit: str | None
    record: Record | None


def repair(git: GitRepo, rt: Runtime, identity: Identity, reason: str | None,
           from_rev: str | None = None, dry_run: bool = False) -> RepairResult:
    """Acknowledge every current finding and restore values from a clean line commit."""
    text = check_reason(reason)
    line = open_line(git, rt, identity, allow_findings=True)
    require_admin(whoami(line.snapshot, identity, rt).signer, "repair the store")
    findings = tuple(line.report.findings) if line.report else ()
    if not findings:
        raise UsageError("nothing to repair: the store line verifies",
                         hint="`envtrail verify` lists findings when there are any")
    clean = _clean_point(line, rt, findings, from_rev)
    envs = _affected(line, clean)
    acknowledgements = (*((ACK, f"{f.commit} {f.rule}") for f in findings),
                        ("Repair-From", clean))

    def build(snap: Snapshot) -> Plan | None:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "repair the store")
        changes: dict[str, bytes | None] = {}
        masked: list[Change] = []
        for env in envs:
            old = target_values(line.view.at(clean), identity, env)
            current = set(snap.env(env).values)
            plan = plan_values(snap, rt, identity, env, {k: Secret(v) for k, v in old.items()},
                               current - set(old), text, "repair")
            if plan is not None:
                changes.update(plan.changes)
                masked += [replace(c, key=f"{env}:{c.key}") for c in plan.record.changes]
        rec = Record("repair", acting.principal, text, envs, tuple(masked), context_for(rt),
                     acknowledgements)
        return Plan(changes, rec)

    if dry_run:
        plan = build(line.snapshot)
        return RepairResult(findings, clean, envs, None, plan.record if plan else None)
    written = transact(git, rt, identity, build, allow_findings=True)
    return RepairResult(findings, clean, envs, written.commit, written.record)


def _clean_point(line: Line, rt: Runtime, findings: tuple[Finding, ...],
                 from_rev: str | None) -> str:
    """The line commit values come back from: ``--from`` or the parent of the first finding."""
    walked = line.report.walked if line.report else []
    order = {c: i for i, c in enumerate(walked)}
    first = min((order[f.commit] for f in findings if f.commit in order), default=None)
    parents = line.git.info(walked[first]).parents if first is not None else ()
    if not parents:
        raise IntegrityError("the genesis itself has a finding: there is no clean state to "
                             "restore", hint="this store cannot be repaired; start a new one")
    if from_rev is None:
        return parents[0]
    chosen = line.resolve(rt, from_rev)
    if not line.git.is_ancestor(chosen, parents[0]):
        raise UsageError(f"--from {from_rev[:40]} is not a clean line commit before the first "
                         f"finding ({walked[first][:10]})")
    return chosen


def _affected(line: Line, clean: str) -> tuple[str, ...]:
    """Environments whose files differ between the clean point and the head (and exist now)."""
    before, now = line.view.env_blobs(clean), line.view.env_blobs(line.head)
    return tuple(sorted(e for e in now if before.get(e) != now[e] and e in before))
