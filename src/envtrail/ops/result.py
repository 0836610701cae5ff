"""Result values shared by the fast and the full read paths."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.model import Secret


@dataclass(frozen=True)
class Values:
    """Decrypted values of one environment at one commit, with warnings for stderr."""

    environment: str
    commit: str
    values: dict[str, Secret]
    warnings: tuple[str, ...] = ()
    checked: int = 0  # commits verified for this read (0: nothing new since the last check)
