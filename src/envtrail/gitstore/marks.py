"""Whether this process has begun to change refs, in this clone or on a remote.

An interrupt (Ctrl-C) can land after a write moved the store branch or an envtrail ref,
or while ``git push`` waits on a remote that already took the push: the error boundary
must then not say that nothing was changed (attack36 I1). No pygit2 here: the boundary
reads it on every interrupt.
"""

from __future__ import annotations

_STATE = {"begun": False}


def began() -> None:
    """Note that a ref here or on a remote may be about to change (or has changed)."""
    _STATE["begun"] = True


def begun() -> bool:
    """Whether :func:`began` was called since the last :func:`reset`."""
    return _STATE["begun"]


def reset() -> None:
    """Forget it: one command starts."""
    _STATE["begun"] = False
