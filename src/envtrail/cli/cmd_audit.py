"""Commands that read history: log, show, diff, blame, verify."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from envtrail.cli.common import (
    EnvOpt,
    IdentityOpt,
    JsonOpt,
    RepoOpt,
    complete_env,
    complete_key,
    emit_json,
    json_text,
    last_changes,
    load_identity,
    open_git,
    optional_identity,
    out,
    runtime,
    short,
)
from envtrail.cli.render import paint, painted_mark, table, when


def _time(text: str | None):
    if text is None:
        return None
    from envtrail.ops.timespec import parse_time

    return parse_time(text, runtime().now())


def log(
    env: Annotated[str | None, typer.Option("--env", "-e", metavar="ENV",
                                            help="Only this environment (and store-wide changes).",
                                            autocompletion=complete_env)] = None,
    key: Annotated[str | None, typer.Option("--key", "-k", metavar="KEY",
                                            help="Only this variable.",
                                            autocompletion=complete_key)] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="PRINCIPAL",
                                              help="Only changes by this principal.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME",
                                              help="Not before TIME ('2h ago', ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME",
                                              help="Not after TIME.")] = None,
    after: Annotated[str | None, typer.Option(
        "--after", metavar="REV",
        help="Only commits newer than REV (e.g. the last one already shipped).")] = None,
    n: Annotated[int | None, typer.Option("-n", "--max-count", metavar="N", min=0,
                                          help="At most N commits.")] = None,
    utc: Annotated[bool, typer.Option("--utc", help="Times in UTC, not local time.")] = False,
    no_pager: Annotated[bool, typer.Option("--no-pager", help="Never start a pager.")] = False,
    repo: RepoOpt = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON Lines, one event per line.")] = False,
) -> None:
    """The audit trail, newest first: who changed what, when, where and why. Needs no key."""
    from envtrail.audit.events import Filters
    from envtrail.cli.render import is_tty, paged, plain_row
    from envtrail.ops import audit

    filters = Filters(env, key, actor, _time(since), _time(until))
    events = audit.log(open_git(repo), filters, n, after)
    if json_:
        for e in events:
            sys.stdout.write(json_text(e.as_dict()) + "\n")
        return
    commits = _by_commit(events)
    if not is_tty():
        for c in commits:
            sys.stdout.write(plain_row(_plain_row(c)) + "\n")
        return
    paged(lambda con: _draw_log(con, commits, utc), pager=not no_pager)


def _by_commit(events):
    """Group a commit's events (they come out together) into one entry."""
    groups: list[list] = []
    for e in events:
        if groups and groups[-1][0].commit == e.commit:
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def _variables(group) -> str:
    first = group[0]
    names = [e.key for e in group if e.key]
    if first.reencrypted:
        return "re-encrypted " + ", ".join(names)
    return ", ".join(f"{e.change}{e.key}" for e in group if e.key) or "-"


def _plain_row(group) -> list[str]:
    from envtrail.audit.context import parse
    from envtrail.cli.render import mark, when, where

    c = group[0]
    return [when(c.time), c.environment or "-", f"{c.actor or '?'} {mark(c.verified)}",
            _action_cell(c), _variables(group), c.reason, short(c.commit),
            where(parse(c.context)) or "-"]


# A reason longer than this is cut in the terminal's log (show and --json give it whole).
_LOG_REASON = 120


def _draw_log(con, groups, utc: bool) -> None:
    """Each commit on one line when it fits, else two: id and time always whole. Only a
    commit's head line starts at column 0; whatever folds is indented (``hanging``)."""
    from envtrail.audit.context import parse
    from envtrail.cli.render import hanging, styled, when, where

    for group in groups:
        c = group[0]
        place = where(parse(c.context))
        head = styled(paint(short(c.commit), "yellow"), f"  {when(c.time, utc)}  ",
                      paint(c.environment or "store", "bold"),
                      f"  {c.actor or 'unattested'} ", painted_mark(c.verified),
                      *(("  ", paint(place, "dim")) if place else ()))
        reason = c.reason if len(c.reason) <= _LOG_REASON else c.reason[:_LOG_REASON - 1] + "…"
        body = styled(paint(_action_cell(c), "cyan"), f" {_variables(group)}  {reason}")
        if head.cell_len + 2 + body.cell_len <= con.width:
            con.print(head + "  " + body)
        else:
            hanging(con, head, 8)
            hanging(con, styled("    ") + body, 8)


def _action_cell(e) -> str:
    """The action, with an event's kind and claims and a change's approval marks."""
    text = e.action
    if e.event:
        claims = [f"{k} {e.event[k]}{'s' if k == 'duration' else ''}"
                  for k in ("ref", "status", "duration") if k in e.event]
        text = f"event {e.event['kind']}" + (f" ({', '.join(claims)})" if claims else "")
    if e.break_glass:
        text += " [BREAK-GLASS]"
    if e.approved_by:
        text += f" [approved by {', '.join(e.approved_by)}]"
    if e.acknowledged:
        text += f" [acknowledged {e.acknowledged.said()}]"
    if e.swept:
        text += f" [swept: {e.swept.said()}]"
    return text


def show(
    rev: Annotated[str, typer.Argument(metavar="REV", help="A commit, tag, HEAD~N or TIME.")],
    repo: RepoOpt = None,
    json_: JsonOpt = False,
) -> None:
    """One change in full: who, what, when, where, why, and its verification."""
    from envtrail.audit.context import parse as parse_context
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
                "environments": list(rec.environments), "context": parse_context(rec.context),
                "changes": [render_change(c) for c in rec.changes]},
            "events": [e.as_dict() for e in s.events],
            "findings": [f.as_dict() for f in s.findings],
            "acknowledged": [a.as_dict() for a in s.acknowledged],
            "swept_by": [w.as_dict() for w in s.swept],
            "judged": s.judged,
            "store_changes": list(s.store_diff),
            "approved_by": list(s.approved_by),
        })
        return
    out(f"commit     {s.info.id}")
    out(f"when       {when(s.info.committer_time)}")
    signer = f" by {s.verdict.principal}" if s.verdict.principal else ""
    out(f"signature  {s.verdict.status}{signer} ", painted_mark(s.verdict.good))
    if rec is None:
        out(f"who        (unattested) {s.info.author[0]}")
        # The first line as git and log see it: splitlines() would also end it at a CR,
        # U+0085 or U+2028 and hide the rest, which inert shows escaped.
        out(f"message    {s.info.message.split(chr(10), 1)[0]}")
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
    if s.approved_by:
        out(f"approved   {', '.join(s.approved_by)}")
    if s.store_diff:
        out("changed")
        for line in s.store_diff:
            out(f"  {line}")
    # What was judged is part of the answer: off the line, only the commit itself.
    scope = {"line": "within the store line, without a key",
             "events": "as an event of the events line"}.get(
        s.judged, "its signature and tree only: it is on neither line")
    if s.findings:
        out("verify     ", paint("FAILED", "bold red"), f" ({scope})")
        for f in s.findings:
            out(f"  rule {f.rule} ({f.rule_name}): {f.message}")
    else:
        out("verify     ", paint("ok", "green"), f" ({scope})")
    for a in s.acknowledged:
        out(f"  acknowledged rule {a.finding.rule} ({a.finding.rule_name}): "
            f"{a.finding.message}; by {a.admin} in {short(a.repair)}: {a.reason}")
    for w in s.swept:
        out(f"  swept by a repair: {w.said()}")


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
    from envtrail.errors import UsageError
    from envtrail.ops import audit

    if len(revs) > 2:
        raise UsageError("diff takes one or two revisions")
    # An auditor without a key still sees which variables changed.
    me = load_identity(identity) if reveal else optional_identity(identity)[0]
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


def blame(env: EnvOpt = ..., repo: RepoOpt = None, identity: IdentityOpt = None,  # type: ignore[assignment]
          json_: JsonOpt = False) -> None:
    """Per variable: the last change, who made it, when and why. Needs no key; with one,
    the changes are checked against the values."""
    rows = last_changes(env, repo, identity)
    if json_:
        emit_json([r.as_dict() for r in rows])
        return
    from envtrail.cli.render import credited

    table(["variable", "time", "actor", "action", "reason", "commit"],
          [[r.key, r.time, credited(r.actor, r.verified, r.acknowledged), r.action, r.reason,
            short(r.commit)] for r in rows])


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
        "--force", help="With --accept-rewrite: accept even a line with another genesis, "
                        "or one that lost a repair or a commit that changed signers, policy, "
                        "config, members or keys.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on warnings too (acknowledged findings, unreviewed "
                         "break-glass changes).")] = False,
) -> None:
    """Check the whole store line: signatures, actors, masked diffs, policy, shape, times."""
    from envtrail.errors import FindingsError, IntegrityError
    from envtrail.ops.verify import verify as run_verify

    me, _ = optional_identity(identity)  # with a key, fingerprints are rechecked too
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
        for s in report.swept:
            out(f"swept: {s.line()}")
        for w in report.warnings:
            out(f"warning: {w}")
        if report.skipped:
            out("skipped without a key: fingerprints and decryption in "
                f"{', '.join(report.skipped)}")
        if report.skipped_before_seat:
            out("skipped before your key was sealed to you: fingerprints and decryption of "
                f"earlier commits in {', '.join(report.skipped_before_seat)}")
        if report.other_genesis and report.pinned_now:
            out(f"WARNING: re-pinned to ANOTHER genesis {report.genesis} (was "
                f"{report.other_genesis}): this is a different store, trusted from now on")
        elif report.pinned_now:
            out(f"pinned genesis {report.genesis}")
        if report.refused:
            out(f"still refused: {report.refused} (found earlier in this clone; only a walk "
                f"with a key to {', '.join(report.refused_envs)}, or a repair, lifts it)")
        out(f"verified {report.checked} commit(s) up to {short(report.head)}: "
            f"{_verdict(report, strict)}")
    if any(f.rule == 8 for f in report.findings):
        # Another genesis, a trust root the line lacks, a verified head rewound away: not
        # findings on the store's line but another line, which DESIGN §7 gives exit 5.
        raise IntegrityError("verification failed: this is not the trusted store line "
                             "(rule 8, history)")
    if not report.passes(strict):
        raise FindingsError("verification failed" if not report.ok
                            else "acknowledged findings or warnings (--strict)")


def _verdict(report, strict: bool) -> str:
    """The last line's verdict: under ``--strict``, what it fails on instead of "ok"."""
    if report.findings:
        return f"{len(report.findings)} finding(s)"
    if not report.ok:
        return "an earlier finding stands"
    if report.passes(strict):
        return "ok"
    counts = []
    if report.acknowledged:
        counts.append(f"{len(report.acknowledged)} acknowledged finding(s)")
    if report.warnings:
        counts.append(f"{len(report.warnings)} warning(s)")
    return f"FAILED under --strict: {' and '.join(counts)}"


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


def register(app: typer.Typer, only: str | None = None) -> None:
    """Attach these commands (or just ``only``) to the application."""
    for name, fn in (("log", log), ("show", show), ("diff", diff), ("blame", blame),
                     ("verify", verify)):
        if only in (None, name):
            app.command(name)(fn)
