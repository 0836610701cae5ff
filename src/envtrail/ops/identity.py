"""Finding, loading and creating identities (DESIGN section 3)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envtrail.crypto.keys import Identity, KeyFormatError, PassphraseRequired, WrongPassphrase
from envtrail.errors import AccessDenied, UsageError
from envtrail.model import check_new_principal
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class LoadedIdentity:
    """An identity and where it came from (a path, or the environment variable)."""

    identity: Identity
    source: str


# Asks the person at the terminal for the passphrase of the key named by its
# argument; None if there is no terminal to ask on. Supplied by the CLI.
Ask = Callable[[str], str | None]
PASSPHRASE_VARIABLE = "ENVTRAIL_PASSPHRASE"  # noqa: S105 - the name, not a passphrase


def passphrase_source(rt: Runtime, ask: Ask | None, what: str) -> Callable[[], str | None]:
    """Where a key's passphrase comes from: ENVTRAIL_PASSPHRASE, else the terminal."""
    def source() -> str | None:
        given = rt.env.get(PASSPHRASE_VARIABLE)
        if given:
            return given
        return ask(what) if ask is not None else None
    return source


def _open(text: str, where: str, rt: Runtime, ask: Ask | None) -> Identity:
    """Parse key text from ``where`` (a path or a variable name); AccessDenied on any fault."""
    try:
        return Identity.from_openssh(text, passphrase_source(rt, ask, where))
    except PassphraseRequired:
        raise AccessDenied(f"{where} is passphrase-protected and no passphrase was given",
                           hint=f"set {PASSPHRASE_VARIABLE} or run on a terminal to be asked"
                           ) from None
    except WrongPassphrase:
        raise AccessDenied(f"{where}: wrong passphrase") from None
    except KeyFormatError as exc:
        raise AccessDenied(f"{where}: {exc}") from None


def default_path(rt: Runtime) -> Path:
    """``$XDG_CONFIG_HOME/envtrail/identity``."""
    return rt.config_home() / "envtrail" / "identity"


def _from_file(path: Path, rt: Runtime, ask: Ask | None) -> LoadedIdentity:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"identity {path} is a folder, not a key file",
                             hint=f"pass the private key file inside it, e.g. {path / 'id_ed25519'}")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AccessDenied(
                f"identity file {path} is readable by others; refusing to use it",
                hint=f"run `chmod 600 {path}` (ssh refuses such keys too)",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AccessDenied(f"no identity file at {path}") from None
    except (OSError, UnicodeDecodeError):
        raise AccessDenied(f"cannot read identity file {path}") from None
    return LoadedIdentity(_open(text, f"identity file {path}", rt, ask), str(path))


def load(rt: Runtime, explicit: Path | None = None, ask: Ask | None = None) -> LoadedIdentity:
    """The identity to act as: --identity, ENVTRAIL_IDENTITY, ENVTRAIL_IDENTITY_KEY, defaults.

    A passphrase-protected key is opened with ENVTRAIL_PASSPHRASE or, failing
    that, ``ask`` (a terminal prompt); AccessDenied (exit 4) if neither opens it.
    """
    if explicit is not None:
        return _from_file(explicit, rt, ask)
    if rt.env.get("ENVTRAIL_IDENTITY"):
        return _from_file(Path(rt.env["ENVTRAIL_IDENTITY"]), rt, ask)
    if rt.env.get("ENVTRAIL_IDENTITY_KEY"):
        ident = _open(rt.env["ENVTRAIL_IDENTITY_KEY"], "ENVTRAIL_IDENTITY_KEY", rt, ask)
        return LoadedIdentity(ident, "ENVTRAIL_IDENTITY_KEY")
    for candidate in (default_path(rt), rt.home / ".ssh" / "id_ed25519"):
        if candidate.exists():
            return _from_file(candidate, rt, ask)
    raise AccessDenied(
        "no identity found",
        hint="create one with `envtrail identity new --principal you@example.com`",
    )


def create(rt: Runtime, principal: str | None, out: Path | None,
           passphrase: str | None = None) -> tuple[Path, str]:
    """Write a new OpenSSH key (0600) and its ``.pub``; return its path and public line.

    With ``passphrase`` the key is encrypted as ssh-keygen does by default.

    Neither file may exist beforehand, not even as a symbolic link: envtrail never
    overwrites a key or writes through a link to somewhere else.
    """
    name = check_new_principal(principal or f"{rt.env.get('USER') or 'user'}@{rt.host}")
    path = out or default_path(rt)
    pub_path = path.with_name(path.name + ".pub")
    for target in (path, pub_path):
        if os.path.lexists(target):
            raise _exists(target)
    identity = Identity.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_new(path, identity.to_openssh(passphrase), 0o600)
    try:
        _write_new(pub_path, identity.public.line(name) + "\n", 0o644)
    except BaseException:
        path.unlink()  # a key nobody was told about: leave nothing behind
        raise
    return path, identity.public.line(name)


def _exists(path: Path) -> UsageError:
    what = "a symbolic link" if path.is_symlink() else "a file"
    return UsageError(f"{path} already exists ({what}); envtrail never overwrites a key",
                      hint="pass --out to write somewhere else")


def _write_new(path: Path, text: str, mode: int) -> None:
    """Create ``path`` with ``mode``; refuse any existing file or link (O_EXCL|O_NOFOLLOW).

    The mode is set at creation, so a private key is never readable by others,
    not even for an instant, and a link planted between check and write fails.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise _exists(path) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
