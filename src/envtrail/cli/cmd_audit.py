"""Commands that read history: log, show, diff, blame, verify."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from envtrail.cli.common import (
    EnvOpt,
    IdentityOpt,
    JsonOpt,
    RepoOpt,
    emit_json,
    load_identity,
    open_git,
    out,
    runtime,
    short,
)
from envtrail.cli.render import mark, table


def _time(text: str | None):
    if text is None:
        return None
    from envtrail.ops.timespec import parse_time

    return parse_time(text, runtime().now())


def log(
    env: Annotated[str | None, typer.Option("--env", "-e", metavar="ENV",
                                            help="Only this environment.")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", metavar="KEY",
                                            help="Only this variable.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="PRINCIPAL",
                                              help="Only changes by this principal.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME",
                                              help="Not before TIME ('2h ago', ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME",
                                              help="Not after TIME.")] = None,
    n: Annotated[int | None, typer.Option("-n", "--max-count", metavar="N", min=0,
                                          help="At most N commits.")] = None,
    repo: RepoOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON Lines, one event per line.")] = False,
) -> None:
    """The audit trail, newest first: who changed what, when, where and why. Needs no key."""
    from envtrail.audit.events import Filters
    from envtrail.ops import audit

    filters = Filters(env, key, actor, _time(since), _time(until))
    events = audit.log(open_git(repo), filters, n)
    if json_:
        for e in events:
            sys.stdout.write(json.dumps(e.as_dict(), ensure_ascii=False) + "\n")
        return
    rows, current, names = [], None, []
    for e in [*events, None]:
        if current is not None and (e is None or e.commit != current.commit):
            who = f"{current.actor or '?'} {mark(current.verified)}"
            rows.append([current.time.isoformat(), current.environment or "-", who,
                         current.action, ", ".join(names) or "-", current.reason,
                         short(current.commit)])
            names = []
        if e is not None:
            current = e
            if e.key:
                names.append(f"{e.change}{e.key}")
    table(["time", "env", "actor", "action", "variables", "reason", "commit"], rows)


def show(
    rev: Annotated[str, typer.Argument(metavar="REV", help="A commit, tag, HEAD~N or TIME.")],
    repo: RepoOpt = None,
    json_: JsonOpt = False,
) -> None:
    """One change in full: who, what, when, where, why, and its verification."""
    from envtrail.audit.record import render_change
    from envtrail.ops import audit

    s = audit.show(open_git(repo), runtime(), rev)
    rec = s.record
    if json_:
        emit_json({
            "commit": s.info.id, "time": s.info.committer_time.isoformat(),
            "signature": s.verdict.status, "signer": s.verdict.principal,
            "record": None if rec is None else {
                "action": rec.action, "actor": rec.actor, "reason": rec.reason,
                "environments": list(rec.environments), "context": rec.context,
                "changes": [render_change(c) for c in rec.changes]},
            "events": [e.as_dict() for e in s.events],
            "findings": [f.as_dict() for f in s.findings],
        })
        return
    out(f"commit     {s.info.id}")
    out(f"when       {s.info.committer_time.isoformat()}")
    signer = f" by {s.verdict.principal}" if s.verdict.principal else ""
    out(f"signature  {s.verdict.status}{signer} {mark(s.verdict.good)}")
    if rec is None:
        out(f"who        (unattested) {s.info.author_name}")
        out(f"message    {s.info.message.splitlines()[0] if s.info.message else ''}")
        for e in s.events:
            if e.key:
                out(f"  {e.change} {e.environment}:{e.key}")
    else:
        out(f"who        {rec.actor}")
        out(f"action     {rec.action}")
        out(f"env        {', '.join(rec.environments) or '-'}")
        out(f"where      {rec.context or '-'}")
        out(f"why        {rec.reason}")
        if rec.changes:
            out("what")
            for c in rec.changes:
                out(f"  {render_change(c)}")
        for k, v in rec.extra:
            out(f"{k.lower():<10} {v}")
    if s.findings:
        out("verify     FAILED")
        for f in s.findings:
            out(f"  rule {f.rule} ({f.rule_name}): {f.message}")
    else:
        out("verify     ok")


def diff(
    revs: Annotated[list[str], typer.Argument(metavar="REV [REV]",
                                              help="From REV to the second REV (default HEAD).")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reveal: Annotated[bool, typer.Option("--reveal", help="Decrypt old and new values.")] = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Masked diff of one environment between two points; --reveal decrypts (members only)."""
    from envtrail.errors import AccessDenied, UsageError
    from envtrail.ops import audit

    if len(revs) > 2:
        raise UsageError("diff takes one or two revisions")
    try:
        me = load_identity(identity)
    except AccessDenied:
        if reveal:
            raise
        me = None  # an auditor without a key still sees which variables changed
    rows = audit.diff(open_git(repo), runtime(), me, env, revs[0],
                      revs[1] if len(revs) > 1 else None, reveal)
    if json_:
        emit_json([r.as_dict(reveal) for r in rows])
        return
    for r in rows:
        # Without a key there are no fingerprints: the diff still says what changed.
        fps = [fp for fp in (r.old_fp, r.new_fp) if fp]
        out(" ".join([r.change, r.key, " -> ".join(fps)]).rstrip())
        if reveal:
            for sign, value in (("-", r.old), ("+", r.new)):
                if value is not None:
                    for line in value.reveal().split("\n"):
                        out(f"    {sign} {line}")


def blame(env: EnvOpt = ..., repo: RepoOpt = None, json_: JsonOpt = False) -> None:  # type: ignore[assignment]
    """Per variable: the last change, who made it, when and why. Needs no key."""
    from envtrail.ops import audit

    rows = audit.blame(open_git(repo), runtime(), env)
    if json_:
        emit_json([r.as_dict() for r in rows])
        return
    table(["variable", "time", "actor", "action", "reason", "commit"],
          [[r.key, r.time, r.actor or "(unattested)", r.action, r.reason, short(r.commit)]
           for r in rows])


def verify(
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
    trust_root: Annotated[str | None, typer.Option(
        "--trust-root", metavar="ID",
        help="A commit id (the genesis or a later one) the store line must contain.")] = None,
    accept_rewrite: Annotated[bool, typer.Option(
        "--accept-rewrite", help="Re-pin this clone after a reviewed history rewrite; lists "
                                 "the commits that disappeared.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="With --accept-rewrite: accept even when a revoke, rotate, signers, "
                        "policy or repair commit disappeared.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on warnings too (acknowledged findings).")] = False,
) -> None:
    """Check the whole store line: signatures, actors, masked diffs, policy, shape, times."""
    from envtrail.errors import AccessDenied, FindingsError
    from envtrail.ops.verify import verify as run_verify

    try:
        me = load_identity(identity)  # with a key, fingerprints are rechecked too
    except AccessDenied:
        me = None
    git = open_git(repo)
    # The spinner draws on stderr, so it is stderr that must be a terminal.
    progress = _Progress() if sys.stderr.isatty() and not json_ else None
    try:
        report = run_verify(git, runtime(), me, trust_root=trust_root,
                            accept_rewrite=accept_rewrite, force=force,
                            progress=progress.update if progress else None)
    finally:
        if progress:
            progress.close()
    if json_:
        emit_json(report.as_dict())
    else:
        for gone in report.disappeared:
            out(f"disappeared: {gone}")
        for f in report.findings:
            out(f.line())
        for a in report.acknowledged:
            out(f"acknowledged: {a.finding.line()} (by {a.admin} in {short(a.repair)}: {a.reason})")
        if report.skipped:
            out(f"skipped without a key: fingerprints and decryption in "
                f"{', '.join(report.skipped)}")
        if report.pinned_now:
            out(f"pinned genesis {report.genesis}")
        status = "ok" if report.ok else f"{len(report.findings)} finding(s)"
        out(f"verified {report.checked} commit(s) up to {short(report.head)}: {status}")
    if not report.passes(strict):
        raise FindingsError("verification failed" if not report.ok
                            else "acknowledged findings (--strict)")


class _Progress:
    """A spinner with a commit count on stderr (rich), for long histories."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        self._p = Progress(SpinnerColumn(), TextColumn("verifying: {task.completed} commits"),
                           transient=True, console=Console(stderr=True))
        self._p.start()
        self._task = self._p.add_task("verify", total=None)

    def update(self, n: int) -> None:
        self._p.update(self._task, completed=n)

    def close(self) -> None:
        self._p.stop()


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    for name, fn in (("log", log), ("show", show), ("diff", diff), ("blame", blame),
                     ("verify", verify)):
        app.command(name)(fn)
