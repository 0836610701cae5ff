"""Commands that set things up: identity, init, env."""

from __future__ import annotations

from typing import Annotated

import typer

from envtrail.cli.common import (
    IdentityOpt,
    JsonOpt,
    ProposeOpt,
    ReasonOpt,
    RepoOpt,
    emit_json,
    load_identity,
    open_git,
    out,
    report_write,
    route,
    runtime,
    short,
)

identity_app = typer.Typer(help="Create or show your identity (an Ed25519 key).",
                           no_args_is_help=True)
env_app = typer.Typer(help="Add or list environments.", no_args_is_help=True)


@identity_app.command("new")
def identity_new(
    principal: Annotated[str | None, typer.Option(
        "--principal", metavar="EMAIL",
        help="Name bound to the key: an e-mail or ci:<name> (default: $USER@host).")] = None,
    out_path: Annotated[str | None, typer.Option(
        "--out", metavar="PATH", help="Where to write the key (default: ~/.config/envtrail/identity).",
    )] = None,
    passphrase: Annotated[bool, typer.Option(
        "--passphrase", help="Encrypt the key with a passphrase (asked twice on the terminal, "
        "or ENVTRAIL_PASSPHRASE).")] = False,
) -> None:
    """Write a new OpenSSH Ed25519 key (0600) and print its public line."""
    from pathlib import Path

    from envtrail.ops import identity

    rt = runtime()
    secret = None
    if passphrase:
        from envtrail.cli.secret_input import ask_passphrase
        from envtrail.errors import UsageError

        secret = rt.env.get(identity.PASSPHRASE_VARIABLE) or ask_passphrase("the new key",
                                                                            confirm=True)
        if not secret:
            raise UsageError("--passphrase needs a passphrase: run on a terminal or set "
                             f"{identity.PASSPHRASE_VARIABLE}")
    path, line = identity.create(rt, principal, Path(out_path) if out_path else None, secret)
    typer.echo(f"wrote {path}", err=True)
    out(line, fold=False)  # copied whole into `access grant`


@identity_app.command("show")
def identity_show(identity: IdentityOpt = None) -> None:
    """Print the public key line of the identity in use."""
    from pathlib import Path

    from envtrail.cli.common import GLOBALS
    from envtrail.cli.secret_input import ask_passphrase
    from envtrail.ops import identity as ident

    chosen = identity or GLOBALS.identity
    loaded = ident.load(runtime(), Path(chosen) if chosen else None, ask_passphrase)
    typer.echo(f"identity: {loaded.source}", err=True)
    out(loaded.identity.public.line(loaded.identity.comment), fold=False)  # copied whole


def init(
    env: Annotated[list[str] | None, typer.Option(
        "--env", "-e", metavar="ENV", help="Create this environment (repeatable).")] = None,
    create: Annotated[bool, typer.Option(
        "--create", help="Outside a Git repository, make one here for the store.")] = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Make this Git repository a store, or configure a fresh clone of one."""
    from pathlib import Path

    from envtrail.cli.common import GLOBALS
    from envtrail.errors import AccessDenied
    from envtrail.ops import setup

    rt = runtime()
    chosen = repo or GLOBALS.repo
    try:
        me = load_identity(identity)
    except AccessDenied:
        me = None  # a clone can be configured without one
    result = setup.init(rt, me, env or [], Path(chosen) if chosen else None, create)
    if result.made_repo:
        out(f"created a Git repository in {result.root} (branch main)")
    if result.created:
        out(f"initialised envtrail store in {result.root} on {result.branch}")
        out(f"genesis {result.commit}")
        out("  pin it in CI: ENVTRAIL_TRUST_ROOT=<that id>")
    else:
        out(f"{result.root} is already an envtrail store; clone configured")
        for note in result.notes:
            out(f"  {note}")
    for key in result.config_changed:
        out(f"  set git config {key}")


@env_app.command("add")
def env_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Environment name.")],
    reason: ReasonOpt = None,
    propose: ProposeOpt = False,
    repo: RepoOpt = None,
    identity: IdentityOpt = None,
) -> None:
    """Create an environment with you as its only member (admins only)."""
    from envtrail.model import check_reason
    from envtrail.ops import setup

    git = open_git(repo)
    written = setup.add_env(git, runtime(), load_identity(identity), name, check_reason(reason),
                            route(propose))
    report_write(written, name)


@env_app.command("list")
def env_list(repo: RepoOpt = None, json_: JsonOpt = False) -> None:
    """List the environments of the store."""
    from envtrail.ops.gate import open_line

    names = open_line(open_git(repo), runtime()).snapshot.environments()
    if json_:
        emit_json(names)
    else:
        for name in names:
            out(name)


def status(repo: RepoOpt = None, identity: IdentityOpt = None, json_: JsonOpt = False) -> None:
    """The store, your identity, what you can read, verification, findings a repair
    acknowledged and changes it swept, break-glass changes awaiting review, and what to
    do next."""
    from pathlib import Path

    from envtrail.cli.common import GLOBALS
    from envtrail.cli.render import paint, when
    from envtrail.ops.status import status as inspect

    chosen = identity or GLOBALS.identity
    st = inspect(open_git(repo), runtime(), Path(chosen) if chosen else None)
    if json_:
        emit_json(st.as_dict())
        return
    out(f"store        {st.store}")
    out(f"branch       {st.branch}")
    out(f"head         {short(st.head)}")
    out(f"genesis pin  {st.pin or 'not pinned yet (the next read pins it)'}")
    if st.trust_roots:
        out(f"trust roots  {', '.join(st.trust_roots)}")
    who = f"{st.principal}{' (admin)' if st.admin else ''}" if st.principal else "not a signer here"
    out(f"identity     {st.identity or 'none'}: {who if st.identity else '-'}")
    out(f"can read     {', '.join(st.readable) or '-'}  (of {', '.join(st.environments) or 'none'})")
    out(f"verified     {st.verified}")
    out(f"git config   {'ok' if not st.missing_config else 'missing ' + ', '.join(st.missing_config)}")
    out(f"hook         {'installed' if st.hook_installed else 'not installed'}")
    for a in st.acknowledged:
        for rule in a.rules:
            out(f"acknowledged {short(a.commit)} {a.said((rule,))}")
    for s in st.swept:
        out(f"swept        {s.line()}")
    for u in st.break_glass:
        late = paint("OVERDUE", "bold red") if u.overdue else f"review by {when(u.due)}"
        out(f"break-glass  {u.environment}: {short(u.commit)} by {u.author} at {when(u.time)}, "
            f"{len(u.approved_by)} of {u.needed} approval(s), ", late)
    for step in st.next_steps:
        out(f"next: {step}")


def register(app: typer.Typer) -> None:
    """Attach these commands to the application."""
    app.add_typer(identity_app, name="identity")
    app.command("init")(init)
    app.add_typer(env_app, name="env")
    app.command("status")(status)
