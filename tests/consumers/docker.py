"""How ``docker run --env-file`` reads a file: a model, the real client, and recorded parses.

The model (:func:`read_env_file`) follows the docker client's env-file reader
(docker/cli, ``opts/envfile.go``): Go's ``bufio.Scanner`` splits the file at
LF and drops one CR before it, and fails a line longer than 64 KiB - 1; the
first line loses a UTF-8 byte-order mark; leading white space is trimmed from
each line; empty lines and lines starting with ``#`` are skipped; the name
runs to the first ``=`` and may not contain a space or tab; the value is the
rest of the line, verbatim. A line without ``=`` passes the caller's variable
of that name through (this model passes nothing).

:func:`docker_reads` asks the real client: it runs ``docker container create
--env-file FILE`` against a stand-in daemon listening on a Unix socket in a
temporary folder, which records the environment in the create request and
refuses it, so no engine and no image are involved.

Run ``python tests/consumers/docker.py`` to re-record ``docker_envfile.json``
(the parses the tests compare the model with) from the installed client.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
from pathlib import Path

RECORDED = Path(__file__).resolve().parent / "docker_envfile.json"
MAX_TOKEN = 64 * 1024  # bufio.MaxScanTokenSize: a line plus its LF must fit
# Go's unicode.IsSpace (Python's str.isspace also counts \x1c-\x1f).
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
             "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class EnvFileError(ValueError):
    """docker refuses the file."""


def read_env_file(data: bytes) -> list[str]:
    """The ``NAME=value`` strings docker's client takes from an env file (the model)."""
    lines, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        stop = len(data) if end < 0 else end
        if stop - start >= MAX_TOKEN:
            raise EnvFileError("bufio.Scanner: token too long")
        line = data[start:stop]
        start = stop + 1
        lines.append(line[:-1] if line.endswith(b"\r") else line)
    out = []
    for number, raw in enumerate(lines):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvFileError("invalid utf8") from None
        if number == 0:
            text = text.removeprefix("\ufeff")
        text = text.lstrip(_GO_SPACE)
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition("=")
        name = name.lstrip(" \t")
        if " " in name or "\t" in name:
            raise EnvFileError("variable contains whitespaces")
        if not name:
            raise EnvFileError("no variable name")
        if sep:
            out.append(f"{name}={value}")
    return out


class _Daemon(http.server.BaseHTTPRequestHandler):
    seen: list

    def _answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("API-Version", "1.45")
        self.send_header("OSType", "linux")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # /_ping
        self._answer(200, b"OK")

    do_GET = do_HEAD

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].endswith("/containers/create"):
            self.server.seen.append(json.loads(body).get("Env") or [])
        self._answer(500, b'{"message": "recorded by the envtrail test daemon"}')

    def address_string(self) -> str:
        return "test"

    def log_message(self, *args) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def docker_reads(data: bytes) -> list[str] | str:
    """What the real docker client reads from an env file holding ``data``.

    The list of ``NAME=value`` strings it would send, or the client's error text
    when it refuses the file.
    """
    docker = shutil.which("docker")
    assert docker, "docker is not installed"
    with tempfile.TemporaryDirectory() as folder:
        sock, env_file = Path(folder) / "d.sock", Path(folder) / "env"
        env_file.write_bytes(data)
        server = _Server(str(sock), _Daemon)
        server.seen = []
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            proc = subprocess.run(
                [docker, "container", "create", "--env-file", str(env_file), "envtrail-test"],
                capture_output=True, text=True, timeout=60, check=False,
                env={"PATH": os.environ.get("PATH", ""), "HOME": folder,
                     "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(Path(folder) / "cfg")})
        finally:
            server.shutdown()
            server.server_close()
    if server.seen:
        return server.seen[0]
    said = proc.stderr.strip().replace(str(env_file), "FILE")
    return said.splitlines()[0] if said else f"exit {proc.returncode}"


# Files whose parse is recorded: edges of every rule above, and the lines
# envtrail's docker export writes.
CASES = [
    b"A=plain\n",
    b"A=x y \nB= lead\n\tC=tab-led line\n",
    b"A='single'\nB=\"double\"\nC=`back`\n",
    b"A=v # not a comment\n# a comment\n  # indented comment\n\n",
    b"A=a=b=c\nB=\nC==\n",
    b"A=crlf\r\nB=mid\rcr\r\n",
    b"A=last-cr\r",
    b"A=no-final-newline",
    b"\xef\xbb\xbfA=bom\n",
    b"A=$HOME ${PATH} $(id) `id` \\n \\\\\n",
    "A=päss—wörd 🔑 日本\u2028x\u0085y\n".encode(),
    b"A B=space in name\n",
    b"=no name\n",
    b"export A=1\n",
    b"UNSET_IN_TEST_ENVIRONMENT\n",
    b"A=" + b"x" * (MAX_TOKEN - 3) + b"\n",
    b"A=" + b"x" * (MAX_TOKEN - 2) + b"\n",
]


def summary(read: list[str] | str) -> list[str] | str:
    """A parse as recorded: each long string by length and digest, an error as ``error``."""
    if isinstance(read, str):
        return "error"
    return [s if len(s) < 200 else f"{len(s)} chars, sha256 {hashlib.sha256(s.encode()).hexdigest()}"
            for s in read]


def record() -> list[dict]:
    """Every case, with the real client's parse (and its error text when it refuses)."""
    out = []
    for data in CASES:
        got = docker_reads(data)
        entry = {"file": data.decode() if len(data) < 200 else f"<{len(data)} bytes>",
                 "read": summary(got)}
        if isinstance(got, str):
            entry["docker says"] = got
        out.append(entry)
    return out


if __name__ == "__main__":
    RECORDED.write_text(json.dumps(record(), ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {RECORDED}")
