"""``envtrail access`` and ``envtrail policy``: who may read, sign and change."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail.cli.common import (
    BreakGlassOpt,
    EnvOpt,
    IdentityOpt,
    JsonOpt,
    ProposeOpt,
    ReasonOpt,
    RepoOpt,
    emit_json,
    load_identity,
    open_git,
    optional_identity,
    out,
    pin_next,
    report_write,
    route,
    runtime,
    warn,
)
from envtrail.cli.render import credited, table

access_app = typer.Typer(help="Grant, revoke and review access to environments.",
                         no_args_is_help=True)
policy_app = typer.Typer(help="Show or change the write rules in .envtrail/policy.yaml.",
                         no_args_is_help=True)
OptEnv = Annotated[str | None, typer.Option("--env", "-e", metavar="ENV",
                                            help="Only this environment.")]


@access_app.command("grant")
def grant(
    principal: Annotated[str, typer.Argument(metavar="PRINCIPAL", help="e-mail or ci:<name>.")],
    pubkey: Annotated[str, typer.Argument(
        metavar="PUBKEY", help="'ssh-ed25519 AAAA...' line, or a path to a .pub file.")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Give PRINCIPAL read access to an environment (admins only)."""
    from envtrail.ops import access

    rt = runtime()
    written = access.grant(open_git(repo), rt, load_identity(identity), principal,
                           access.parse_pubkey(pubkey, rt), env, reason, route(propose))
    report_write(written, f"{principal} is already a member of {env}")
    for text in written.warnings:
        warn(text)
    if written.proposal:
        # A grant can only be approved as the commit that lands, and that commit holds
        # the seal (docs/threat-model.md): pending is not the same as not granted.
        warn(f"the proposal already seals {env}'s key to {principal}: once it reaches them "
             f"(`sync` pushes proposals) they can read {env}, approved or not; if it is "
             f"declined, run `envtrail access rotate --env {env}` and rotate the values "
             "they could read")


@access_app.command("revoke")
def revoke(
    principal: Annotated[str, typer.Argument(metavar="PRINCIPAL", help="Who loses access.")],
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    break_glass: BreakGlassOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Remove a member, rotate the environment's keys, and print the offboarding report."""
    from envtrail.ops import access, audit

    git, me = open_git(repo), load_identity(identity)
    written = access.revoke(git, runtime(), me, principal, env, reason,
                            route(propose, break_glass))
    for text in written.warnings:
        warn(text)
    if written.proposal:
        report_write(written, env)  # the offboarding report comes when it is applied
        return
    report = audit.offboarding(git, runtime(), principal, me)
    if json_:
        emit_json({"commit": written.commit, "report": [e.as_dict() for e in report]})
        return
    report_write(written, env)
    pin_next(written.commit)
    print_offboarding(principal, report)


def print_offboarding(principal: str, report: list) -> None:
    """The offboarding report: every variable the principal could ever read, by environment."""
    out(f"Offboarding report for {principal}: rotate these at their providers.")
    for exp in report:
        spans = "; ".join(
            f"{p.granted_at.isoformat()} -> {p.revoked_at.isoformat() if p.revoked_at else 'now'}"
            for p in exp.periods)
        out(f"  {exp.environment} ({spans or 'a proposal sealed to them'}):")
        for name in sorted(exp.variables):
            out(f"    {name}")
        for name in sorted(exp.proposed):
            out(f"    {name} (proposed)")


@access_app.command("rotate")
def rotate(
    env: EnvOpt = ...,  # type: ignore[assignment]
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """New environment key pair and fingerprint key; every value re-encrypted (admins only)."""
    from envtrail.ops import access

    written = access.rotate(open_git(repo), runtime(), load_identity(identity), env, reason,
                            route(propose))
    report_write(written, env)
    if not written.proposal:
        pin_next(written.commit)


@access_app.command("admin")
def admin(
    principal: Annotated[str, typer.Argument(metavar="PRINCIPAL", help="An allowed signer.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take admin rights away.")] = False,
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Make an allowed signer an admin (or, with --remove, no longer one)."""
    from envtrail.ops import access

    written = access.set_admin(open_git(repo), runtime(), load_identity(identity), principal,
                               not remove, reason, route(propose))
    report_write(written, principal)


@access_app.command("list")
def list_(env: OptEnv = None, repo: RepoOpt = None, identity: IdentityOpt = None,
          json_: JsonOpt = False) -> None:
    """Who can decrypt each environment now, and who may sign."""
    from envtrail.ops import audit

    members, signers = audit.access_now(open_git(repo), runtime(), env,
                                        optional_identity(identity)[0])
    if json_:
        emit_json({"members": members, "signers": signers})
        return
    table(["environment", "member", "key"], [[m["environment"], m["principal"], m["key"]]
                                              for m in members])
    table(["signer", "admin", "valid until"], [[s["principal"], "yes" if s["admin"] else "",
                                                s["valid_before"] or ""] for s in signers])


@access_app.command("log")
def log(env: OptEnv = None, repo: RepoOpt = None, identity: IdentityOpt = None,
        json_: JsonOpt = False) -> None:
    """Membership periods from history: granted when, by whom, why; revoked likewise."""
    from envtrail.ops import audit

    periods = audit.access_history(open_git(repo), runtime(), env,
                                   optional_identity(identity)[0])
    if json_:
        emit_json([p.as_dict() for p in periods])
        return
    table(["environment", "member", "granted", "by", "revoked", "by", "why revoked"],
          [[p.environment, p.principal, p.granted_at.isoformat(),
            credited(p.granted_by, p.granted_verified, p.granted_acknowledged),
            p.revoked_at.isoformat() if p.revoked_at else "-",
            credited(p.revoked_by, bool(p.revoked_verified), p.revoked_acknowledged)
            if p.revoked_at else "", p.revoked_why or ""] for p in periods])


@policy_app.command("show")
def policy_show(env: OptEnv = None, repo: RepoOpt = None, json_: JsonOpt = False) -> None:
    """The effective write rule of each environment, of those written ahead of `env add`
    (not added), and the default rule for environments added later."""
    from envtrail.ops.gate import open_line
    from envtrail.ops.policy import shown_rules

    rows = shown_rules(open_line(open_git(repo), runtime()).snapshot, env)
    if json_:
        # Environments by name, as always; the default under "*", which no name can be.
        emit_json({r.environment or "*": {**r.rule, "added": r.added} if r.environment
                   else r.rule for r in rows})
        return
    table(["environment", "require_reason", "reason_pattern", "writers", "approvals",
           "approvers", "break_glass"],
          [[(r.environment if r.added else f"{r.environment} (not added)")
            if r.environment else "(default)",
            str(r.rule["require_reason"]).lower(), str(r.rule["reason_pattern"] or "-"),
            _listed(r.rule["writers"]), str(r.rule["approvals"]),
            _listed(r.rule["approvers"]),
            f"{str(r.rule['break_glass']).lower()} (review {r.rule['break_glass_review']})"]
           for r in rows])


def _listed(value: object) -> str:
    return value if isinstance(value, str) else ",".join(value)  # type: ignore[arg-type]


@policy_app.command("set")
def policy_set(
    env: OptEnv = None,
    require_reason: Annotated[bool | None, typer.Option(
        "--require-reason/--no-require-reason", help="Demand a non-empty --reason.")] = None,
    reason_pattern: Annotated[str | None, typer.Option(
        "--reason-pattern", metavar="REGEX",
        help="RE2 pattern the reason must contain ('none' clears).")] = None,
    writers: Annotated[str | None, typer.Option(
        "--writers", metavar="LIST", help="'any', or principals and/or 'admins', comma-separated.")] = None,
    approvals: Annotated[int | None, typer.Option(
        "--approvals", metavar="N", help="Approvals a change needs before it lands (0: none).")] = None,
    approvers: Annotated[str | None, typer.Option(
        "--approvers", metavar="LIST",
        help="'members' (the environment's, except ci:*), or principals, comma-separated.")] = None,
    break_glass: Annotated[bool | None, typer.Option(
        "--break-glass/--no-break-glass",
        help="Whether --break-glass may land a change before its approvals.")] = None,
    break_glass_review: Annotated[str | None, typer.Option(
        "--review", metavar="DURATION",
        help="When an unreviewed break-glass change turns overdue (24h, 90m, 2d).")] = None,
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Change the default rule, or one environment's rule (admins only)."""
    from envtrail.ops import policy

    changes: dict[str, object] = {}
    if require_reason is not None:
        changes["require_reason"] = require_reason
    if reason_pattern is not None:
        changes["reason_pattern"] = None if reason_pattern == "none" else reason_pattern
    if writers is not None:
        changes["writers"] = policy.parse_writers(writers)
    if approvals is not None:
        changes["approvals"] = policy.check_count(approvals)
    if approvers is not None:
        changes["approvers"] = policy.parse_approvers(approvers)
    if break_glass is not None:
        changes["break_glass"] = break_glass
    if break_glass_review is not None:
        changes["break_glass_review"] = policy.check_review(break_glass_review)
    written = policy.set_rule(open_git(repo), runtime(), load_identity(identity), env, changes,
                              reason, route(propose))
    report_write(written, "policy")
    for text in written.warnings:
        warn(text)


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    app.add_typer(access_app, name="access")
    app.add_typer(policy_app, name="policy")
