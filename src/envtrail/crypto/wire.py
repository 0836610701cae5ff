"""The SSH wire encoding (RFC 4251 section 5): uint32 and length-prefixed strings."""

from __future__ import annotations

import struct

_U32 = struct.Struct(">I")


class WireError(ValueError):
    """Malformed SSH wire data."""


def uint32(n: int) -> bytes:
    """Encode a big-endian uint32."""
    return _U32.pack(n)


def string(data: bytes) -> bytes:
    """Encode a length-prefixed SSH string."""
    return _U32.pack(len(data)) + data


class Reader:
    """Reads SSH wire fields from a byte string, failing cleanly on truncation."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def uint32(self) -> int:
        """Read one uint32."""
        return _U32.unpack(self.raw(4))[0]

    def string(self) -> bytes:
        """Read one length-prefixed string."""
        return self.raw(self.uint32())

    def raw(self, n: int) -> bytes:
        """Read exactly ``n`` bytes."""
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise WireError("truncated SSH data")
        out = self._data[self._pos:end]
        self._pos = end
        return out

    def rest(self) -> bytes:
        """Return what is left unread."""
        return self._data[self._pos:]


def strings(data: bytes, count: int, start: int = 0) -> list[bytes]:
    """The ``count`` strings that run from ``start`` to the end of ``data``.

    WireError if one is truncated or bytes follow the last: a record made only
    of strings is read in one call, not a Reader call per field and a check
    of what is left (signature checks read one such record per commit).
    """
    fields = []
    size = len(data)
    for _ in range(count):
        if start + 4 > size:
            raise WireError("truncated SSH data")
        end = start + 4 + _U32.unpack_from(data, start)[0]
        if end > size:
            raise WireError("truncated SSH data")
        fields.append(data[start + 4:end])
        start = end
    if start != size:
        raise WireError("trailing data")
    return fields


def armor(label: str, blob: bytes) -> str:
    """PEM-style armor with 70-column base64, as OpenSSH writes it."""
    import base64

    b64 = base64.b64encode(blob).decode("ascii")
    lines = [b64[i:i + 70] for i in range(0, len(b64), 70)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def dearmor(label: str, text: str) -> bytes:
    """Undo :func:`armor`; raise WireError if the label or base64 is wrong."""
    import base64
    import binascii

    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    text = text.strip()
    if not (text.startswith(begin) and text.endswith(end)):
        raise WireError(f"not an armored {label}")
    body = "".join(text[len(begin):-len(end)].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("bad base64 in armored data") from exc
