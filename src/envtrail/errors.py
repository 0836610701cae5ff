"""Errors that the CLI maps to exit codes.

Every failure the user can cause is an :class:`EnvtrailError` subclass whose
class decides the exit code. Messages are written for a person, on one line,
and must never contain a secret value or key material: callers pass names,
never values.
"""

from __future__ import annotations


class EnvtrailError(Exception):
    """A failure with a one-line message, an optional hint and an exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(EnvtrailError):
    """Bad option, bad name, malformed input given on the command line."""

    exit_code = 2


class NotFoundError(EnvtrailError):
    """Store, environment, variable, revision or identity not found."""

    exit_code = 3


class AccessDenied(EnvtrailError):
    """No identity, not a recipient, not an allowed signer, policy refused."""

    exit_code = 4


class IntegrityError(EnvtrailError):
    """Ciphertext that will not authenticate, bad signature, unknown format."""

    exit_code = 5


class ConflictError(EnvtrailError):
    """Concurrent change that could not be re-applied, dirty work tree."""

    exit_code = 6


class FindingsError(EnvtrailError):
    """verify or a hook found problems; the findings were already reported."""

    exit_code = 1


class CommandNotFound(EnvtrailError):
    """``run`` could not start the command; 127 as in a shell."""

    exit_code = 127
