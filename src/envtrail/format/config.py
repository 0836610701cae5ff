"""``.envtrail/config.yaml``: the store's format version and settings."""

from __future__ import annotations

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import load

STORE_FORMAT = 1


def render() -> bytes:
    """The config file a new store starts with."""
    return (
        "# envtrail store settings.\n"
        f"envtrail: {STORE_FORMAT}\n"
    ).encode()


def parse(data: bytes) -> dict[str, object]:
    """Parse and check the store format version."""
    doc = load(data, ".envtrail/config.yaml")
    if not isinstance(doc, dict) or doc.get("envtrail") != STORE_FORMAT:
        raise IntegrityError(
            ".envtrail/config.yaml: unknown store format",
            hint="this envtrail reads store format 1; upgrade envtrail",
        )
    return doc
