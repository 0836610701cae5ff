"""``repair``: an admin acknowledges the line's findings in one signed commit and puts
back the last verified state.

Nothing is rewritten: the findings stay on the line, visible in ``verify``,
``log`` and ``status`` with who acknowledged them and why, and ``verify
--strict`` keeps failing on them. The repair restores the store's files as
they were just before the first finding (the clean point): its whole tree,
entry for entry, so nothing a forged commit did survives (not even a file
beside the store), and no key pair a forged commit introduced is ever
encrypted to. With
``--from REV`` (an earlier line commit) the values come from REV instead,
re-encrypted under the clean point's keys for the clean point's members.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from envtrail.audit.record import Record
from envtrail.audit.repairs import ACK, CLEAN, FROM
from envtrail.audit.verify import Finding
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.model import ENV_NAME_RE, Change, Secret, check_reason
from envtrail.ops.gate import Line, open_line
from envtrail.ops.rollback import target_values
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, context_for, transact
from envtrail.ops.values import plan_values
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` acknowledged and restored, and the commit (None for a dry run)."""

    findings: tuple[Finding, ...]
    clean: str
    restored_from: str
    paths: tuple[str, ...]
    commit: str | None
    record: Record | None
    proposal: str | None = None  # with --propose: the proposal waiting for approvals


def repair(git: GitRepo, rt: Runtime, identity: Identity, reason: str | None,
           from_rev: str | None = None, dry_run: bool = False,
           route: Route = DIRECT) -> RepairResult:
    """Acknowledge every current finding and restore the clean point's state."""
    text = check_reason(reason)
    line = open_line(git, rt, identity, allow_findings=True)
    findings = tuple(line.report.findings) if line.report else ()
    if not findings:
        raise UsageError("nothing to repair: the store line verifies",
                         hint="`envtrail verify` lists findings when there are any")
    clean = _clean_point(line, findings)
    clean_state = line.view.at(clean)
    # Judged by the last verified state: the head's signers may be forged.
    acting = whoami(clean_state, identity, rt)
    require_admin(acting.signer, "repair the store")
    source = _source(line, rt, clean, from_rev)
    changes, masked, paths = _restore(line, rt, identity, clean_state, source, text)
    # A forged file's name is no environment name the record could carry.
    envs = tuple(sorted({e for e in map(layout.env_of, paths)
                         if e and ENV_NAME_RE.fullmatch(e) and e not in {".", ".."}}))
    extra = (*((ACK, f"{f.commit} {f.rule}") for f in findings), (CLEAN, clean), (FROM, source))
    rec = Record("repair", acting.principal, text, envs, masked, context_for(rt), extra)
    if dry_run:
        return RepairResult(findings, clean, source, paths, None, rec)
    written = transact(git, rt, identity, lambda snap: Plan(changes, rec, base=clean),
                       allow_findings=True, route=route)
    return RepairResult(findings, clean, source, paths, written.commit, written.record,
                        written.proposal)


def _clean_point(line: Line, findings: tuple[Finding, ...]) -> str:
    """The line commit just before the first finding: the last verified state."""
    walked = line.report.walked if line.report else []
    order = {c: i for i, c in enumerate(walked)}
    first = min((order[f.commit] for f in findings if f.commit in order), default=None)
    if first is None:
        raise IntegrityError("the findings are not on the store line",
                             hint="`envtrail verify --accept-rewrite` handles a rewritten line")
    if first > 0:
        return walked[first - 1]
    if line.report is not None and line.report.since is not None:
        return line.report.since
    raise IntegrityError("the genesis itself has a finding: there is no clean state to restore",
                         hint="this store cannot be repaired; start a new one")


def _source(line: Line, rt: Runtime, clean: str, from_rev: str | None) -> str:
    """Where the values come from: the clean point, or an earlier verified line commit."""
    if from_rev is None:
        return clean
    chosen = line.resolve(rt, from_rev)
    if not line.git.first_parents(clean, chosen)[1]:
        raise UsageError(f"--from {from_rev[:40]} is not a line commit at or before the clean "
                         f"point {clean[:10]}")
    return chosen


def _restore(line: Line, rt: Runtime, identity: Identity, clean: Snapshot, source: str,
             reason: str) -> tuple[dict[str, bytes | None], tuple[Change, ...], tuple[str, ...]]:
    """The values to put on the clean point's tree (only with ``--from``), how they
    differ from it, and every path the repair changes against the head.

    The repair's tree is the clean point's, entry for entry: whatever a forged
    commit added (at the top, in a folder of any depth, under a name that is not
    even UTF-8) is simply not in it, and verify judges a repair by exactly that.
    """
    git, head = line.git, line.head
    changes: dict[str, bytes | None] = {}
    masked: list[Change] = []
    if source != clean.commit:
        for env in clean.environments():
            path = layout.env_path(env)
            old = target_values(line.view.at(source), identity, env)
            removals = set(clean.env(env).values) - set(old)
            plan = plan_values(clean, rt, identity, env, {k: Secret(v) for k, v in old.items()},
                               removals, reason, "repair")
            if plan is not None:
                changes[path] = plan.changes[path]
                masked += [replace(c, key=f"{env}:{c.key}") for c in plan.record.changes]
    touched = set(git.changed_paths(head, clean.commit))
    touched |= {p for p, data in changes.items() if git.read(head, p) != data}
    return changes, tuple(masked), tuple(sorted(touched))
