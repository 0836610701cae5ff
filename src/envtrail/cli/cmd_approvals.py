"""``proposals``, ``review``, ``approve``, ``apply`` and ``event``: approvals and markers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from envtrail.cli.common import (
    IdentityOpt,
    JsonOpt,
    ReasonOpt,
    RepoOpt,
    emit_json,
    load_identity,
    open_git,
    optional_identity,
    out,
    runtime,
    short,
    warn,
)

IdArg = Annotated[str, typer.Argument(metavar="ID", help="A proposal id (`envtrail proposals`).")]


def proposals(
    env: Annotated[str | None, typer.Option("--env", "-e", metavar="ENV",
                                            help="Only proposals for this environment.")] = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List proposed changes waiting for approval, with what each one's tree changes
    (needs no key), and say when the store line they sit on does not verify."""
    from envtrail.cli.render import table
    from envtrail.ops.proposal import proposals
    from envtrail.ops.standing import standing

    git = open_git(repo)
    held = standing(git, runtime(), optional_identity(identity)[0])
    found = proposals(git, runtime(), env)
    if json_:
        emit_json([{**p.as_dict(), **_line_fields(held)} for p in found])
        return
    if not held.verifies:
        warn(f"the store line does not verify: {held.problem}; only a repair can be "
             "approved or applied until then")
    elif held.unchecked:
        warn(f"the store line {_unchecked_text(held)}")
    table(["id", "environment", "action", "author", "approvals", "state", "reason", "tree"],
          [[p.id, ",".join(p.record.environments) or "store", p.record.action, p.record.actor,
            f"{len(p.counted)}/{p.needed}", _state(p, held), p.record.reason,
            "; ".join(_tree_lines(p.effect)) or "-"] for p in found])


def review(
    proposal_id: IdArg,
    reveal: Annotated[bool, typer.Option(
        "--reveal", help="Also print the proposed values your key opens.")] = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show a proposal: author, reason, masked diff, approvals (values with --reveal).

    Beneath the author's record, what its tree changes, read from the files: signer lines
    (principal, key fingerprint, admin), admin files, members, key pairs and masked values.
    """
    from envtrail.audit.record import render_change
    from envtrail.ops import approvals
    from envtrail.ops.standing import standing

    me = load_identity(identity) if reveal else optional_identity(identity)[0]
    git = open_git(repo)
    prop, shown = approvals.review(git, runtime(), me, proposal_id, reveal)
    held = standing(git, runtime(), me)
    if json_:
        doc = {**prop.as_dict(), **_line_fields(held)}
        if reveal:
            doc["values"] = {e: {k: v.reveal() for k, v in vals.items()}
                             for e, vals in shown.items()}
        emit_json(doc)
        return
    out(f"proposal {prop.id} ({prop.commit})")
    out(f"  {', '.join(prop.record.environments) or 'store'}: {prop.record.action} by "
        f"{prop.record.actor}")
    out(f"  reason: {prop.record.reason}")
    for change in prop.record.changes:
        out(f"  {render_change(change)}")
    # What the tree does, whatever the label and trailers above claim: this is what
    # an approval approves.
    tree = _tree_lines(prop.effect)
    out("  its tree changes:" + ("" if tree else " nothing"))
    for line in tree:
        out(f"    {line}")
    for why in prop.mislabelled:
        out(f"  does not do what its record says: {why}")
    for finding in prop.findings:
        # A label the tree contradicts is a rule 3 finding too: said once, just above.
        if not any(finding.endswith(f": {why}") for why in prop.mislabelled):
            out(f"  does not verify: {finding}")
    for env, vals in shown.items():
        for key, value in sorted(vals.items()):
            out(f"  {env} {key}={value.reveal()}")
    out(f"  approvals: {len(prop.counted)} of {prop.needed}"
        + (f" ({', '.join(prop.counted)})" if prop.counted else ""))
    for problem in prop.problems:
        out(f"  does not count: {problem}")
    for env, who in prop.new_readers:
        out(f"  seals {env}'s key to {who}: they can read {env} from this proposal "
            "itself, approved or not")
    if held.verifies and held.unchecked:
        out(f"  line: {_unchecked_text(held)}")
    elif held.verifies:
        out(f"  line: verifies up to {short(held.head)}"
            + ("" if prop.stale else ", the proposal's base"))
    else:
        out(f"  line: does NOT verify: {held.problem}")
    out(f"  state: {_state(prop, held)}")


def approve(
    target: Annotated[str, typer.Argument(
        metavar="ID|COMMIT", help="A proposal id, or a break-glass commit on the line.")],
    reason: ReasonOpt = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Approve a proposal, or a break-glass change afterwards (never your own)."""
    from envtrail.ops import approvals

    written = approvals.approve(open_git(repo), runtime(), load_identity(identity), target,
                                reason)
    named = written.record.extra_value("Approves") if written.record else None
    where = f"proposal {written.proposal}" if written.proposal else "the store line"
    out(f"approved {short(named)} as {written.record.actor} [{short(written.commit)}] "
        f"on {where}")


def apply(
    proposal_id: IdArg,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Land an approved proposal on the store line (only if the line has not moved)."""
    from envtrail.audit.record import subject
    from envtrail.ops import approvals

    written = approvals.apply(open_git(repo), runtime(), load_identity(identity), proposal_id)
    out(f"applied proposal {written.proposal}: {subject(written.record)} "
        f"[{short(written.commit)}]")


def propose(
    redo: Annotated[str | None, typer.Option(
        "--redo", metavar="ID", help="Re-make your stale proposal on the current line head.")] = None,
    withdraw: Annotated[str | None, typer.Option(
        "--withdraw", metavar="ID",
        help="Withdraw a proposal (yours, or any as an admin); `sync` withdraws it from the "
             "remote.")] = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Re-make your proposal on the current line head after the line moved on, or withdraw
    one that can never land."""
    from envtrail.cli.common import report_write
    from envtrail.errors import UsageError
    from envtrail.ops import propose as proposing

    if (redo is None) == (withdraw is None):
        raise UsageError("name one proposal, with --redo ID or --withdraw ID",
                         hint="propose a new change with --propose on set, unset, import, ...")
    if withdraw is not None:
        gone = proposing.withdraw(open_git(repo), runtime(), load_identity(identity), withdraw)
        out(f"proposal {gone} withdrawn: kept as refs/envtrail/withdrawn/{gone} (never pushed); "
            "`envtrail sync` removes it from the remote")
        return
    old, written = proposing.redo(open_git(repo), runtime(), load_identity(identity), redo)
    report_write(written, "proposal")
    out(f"  proposal {old} is withdrawn; its approvals named the old commit")
    for text in written.warnings:
        warn(text)


def event(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="deploy, restart, incident, ...")],
    env: Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="Environment name.")],
    reason: ReasonOpt = None,
    ref: Annotated[str | None, typer.Option(
        "--ref", metavar="REF", help="What it concerns: a release, a ticket, a URL.")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="S", help="How it went: ok, failed, an exit status.")] = None,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Record a signed event (deploy, restart, incident note) in the store's timeline."""
    from envtrail.ops.events import Claims, record_event

    written = record_event(open_git(repo), runtime(), load_identity(identity), kind, env,
                           reason, Claims(ref, status))
    out(f"{env}: event {kind} [{short(written.commit)}]")


def _tree_lines(effect: Any) -> list[str]:
    """One line per changed allowed_signers line, other admin file and environment."""
    from envtrail.audit.effect import key_fingerprint
    from envtrail.format.layout import SIGNERS

    lines = []
    for c in effect.signers:
        s = c.signer
        window = "".join(f" {name}={when.isoformat()}" for name, when in
                         (("valid-after", s.valid_after), ("valid-before", s.valid_before))
                         if when)
        lines.append(f"allowed_signers {c.op} {s.principal} {key_fingerprint(s.key)}"
                     f"{' admin' if s.admin else ''}{window}")
    lines += [f"{path} changed" for path in effect.files
              if path != SIGNERS or not effect.signers]
    for e in effect.environments:
        parts = ["created"] if e.created else ["removed"] if e.removed else []
        parts += ["new key pair"] * e.new_key_pair
        parts += [f"{sign} member {p}" for sign, who in (("+", e.added), ("-", e.dropped))
                  for p in who]
        parts += [f"new key for member {p}" for p in e.rekeyed]
        # A new key pair reseals every member's copy; without one, a new seal is news.
        parts += [f"new seal for member {p}" for p in e.resealed if not e.new_key_pair]
        parts += [f"{op} {k}" for k, op in sorted(e.values.items())]
        lines.append(f"{e.environment}: {', '.join(parts) or 'rewritten, same content'}")
    return lines


def _state(p: Any, line: Any) -> str:
    if p.stale:
        return "stale (the line moved; re-propose)"
    if not line.verifies and p.record.action != "repair":
        return "blocked (the store line does not verify: only a repair can land)"
    if p.stuck:
        return "can never land (it would leave the store stuck: `propose --withdraw` it)"
    if p.findings:
        return f"does not verify: {p.findings[0]}"
    return "ready to apply" if p.ready else "waiting for approvals"


def _line_fields(line: Any) -> dict[str, object]:
    """How the store line under the proposals stands, for their JSON form: it verifies
    with the reader's key only outside ``line_unchecked`` (seats their key cannot open)."""
    return {"line_verifies": line.verifies, "line_problem": line.problem,
            "line_unchecked": list(line.unchecked)}


def _unchecked_text(line: Any) -> str:
    # A listed member whose seat does not open checked nothing there: never "verifies".
    envs = ", ".join(line.unchecked)
    return (f"checked up to {short(line.head)} WITHOUT your key to {envs}: your seat there "
            "does not open with your key, so none of its fingerprints were checked")


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    app.command("proposals")(proposals)
    app.command("review")(review)
    app.command("approve")(approve)
    app.command("apply")(apply)
    app.command("event")(event)
    app.command("propose")(propose)
