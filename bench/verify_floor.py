"""V0: the native work `envtrail verify` cannot skip, replayed with no envtrail code.

`verify` over a long line is bound by work done in C: for every commit an
Ed25519 check of its SSH signature, with a member's key an X25519 exchange
(every write has its own ephemeral key), an AEAD decryption and keyed
BLAKE2b fingerprints, and libgit2 reading the commit, its trees and the
changed file with its hash checks. This script measures how long that work
alone takes on this machine, so the `verify` row of bench.py can be read
against it:

1. ``record``: judge every commit of the line once, in this process, with
   envtrail's own verifier, and note each call it makes into libsodium
   (through ``envtrail.crypto.sodium``) and each object it reads from git,
   with its arguments, in order (kept under bench/.work/, as the fixtures).
2. ``replay`` (timed, a fresh process): import pygit2 and PyNaCl, load the
   calls, and make exactly those calls again straight into libsodium and
   libgit2, on two processes as `verify` does (chunks of 128 commits taken
   in turn).

The replay skips everything else verify does (parsing, rules, the walk), so
its wall time is a floor for any verifier of this format on this stack: what
is left between it and `verify` is envtrail's own Python.

    python bench/verify_floor.py bench/.work/history-10000 bench/.work/alice.key
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

_CHUNK = 128


def record(root: Path, key: Path, out: Path) -> int:
    """Judge the whole line of ``root`` with ``key`` and write the native calls to ``out``."""
    import pygit2

    from envtrail.audit import line, parallel
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.verify import Verifier
    from envtrail.audit.view import StoreView
    from envtrail.crypto import sodium, sshsig
    from envtrail.crypto.keys import Identity
    from envtrail.gitstore.repo import GitRepo

    calls: list[tuple] = []

    def noting(name: str):
        real = getattr(sodium, name)

        def call(*args, **kwargs):
            calls.append((name, args, kwargs))
            return real(*args, **kwargs)
        return call

    for name in ("ed25519_verify", "x25519", "aead_decrypt", "blake2b", "sha512", "sha256"):
        setattr(sodium, name, noting(name))
    sshsig._HASHES = {b"sha512": sodium.sha512, b"sha256": sodium.sha256}  # bound at import
    real_read, real_item = pygit2.Repository.read, pygit2.Repository.__getitem__

    def read(self, oid):
        calls.append(("read", (str(oid),), {}))
        return real_read(self, oid)

    def item(self, oid):
        calls.append(("read", (str(oid),), {}))  # a tree listing: its object read is the floor
        return real_item(self, oid)

    pygit2.Repository.read, pygit2.Repository.__getitem__ = read, item
    git = GitRepo(root)
    view = StoreView(git)
    ids, _ = line.line_ids(view, git.store_head(), None)
    verifier = Verifier(view, Keyring(Identity.from_openssh(key.read_text())))
    per_commit = []
    for commit in ids:
        calls.clear()
        parallel.judge_all(verifier, [commit])
        per_commit.append(list(calls))
    out.write_bytes(pickle.dumps(per_commit))
    return len(ids)


def replay(root: Path, recorded: Path) -> tuple[float, int]:
    """Make the recorded calls again on two processes; the seconds spent loading the
    recording (not part of the floor: verify reads the objects themselves instead) and
    the number of commits replayed."""
    import pygit2
    from nacl._sodium import ffi, lib

    start = time.perf_counter()
    per_commit = pickle.loads(recorded.read_bytes())  # noqa: S301 (written by record() above)
    loading = time.perf_counter() - start
    chunks = [per_commit[i:i + _CHUNK] for i in range(0, len(per_commit), _CHUNK)]
    repo = pygit2.Repository(str(root))
    null = ffi.NULL

    def run(calls: list[tuple]) -> None:
        for name, args, kwargs in calls:
            if name == "read":
                repo.odb.read(args[0])
            elif name == "ed25519_verify":
                sig, msg, pub = args
                signed = sig + msg
                buf = ffi.new("unsigned char[]", len(signed))
                assert lib.crypto_sign_open(buf, null, signed, len(signed), pub) == 0
            elif name == "x25519":
                buf = ffi.new("unsigned char[]", 32)
                lib.crypto_scalarmult(buf, *args)
            elif name == "aead_decrypt":
                ct, ad, nonce, key = args
                buf = ffi.new("unsigned char[]", len(ct) - 16)
                assert lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
                    buf, null, null, ct, len(ct), ad, len(ad), nonce, key) == 0
            elif name == "blake2b":
                data, size, *rest = args
                key = rest[0] if rest else kwargs.get("key", b"")
                person = rest[1] if len(rest) > 1 else kwargs.get("person", b"")
                buf = ffi.new("unsigned char[]", size)
                lib.crypto_generichash_blake2b_salt_personal(
                    buf, size, data, len(data), key or null, len(key), null, person or null)
            elif name in ("sha512", "sha256"):
                buf = ffi.new("unsigned char[]", 64)
                getattr(lib, f"crypto_hash_{name}")(buf, args[0], len(args[0]))

    # Two processes take chunks in turn, as verify's parent and forked child do.
    reader, writer = os.pipe()
    child = os.fork()
    for index, chunk in enumerate(chunks):
        if index % 2 == (1 if child == 0 else 0):
            for calls in chunk:
                run(calls)
    if child == 0:
        os.write(writer, b"x")
        os._exit(0)
    os.read(reader, 1)
    os.waitpid(child, 0)
    return loading, len(per_commit)


def floor(root: Path, key: Path, repeat: int) -> tuple[float, int]:
    """Median seconds of ``repeat`` replays in fresh processes (start-up included, loading
    the recording not), and the commits replayed."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()
    recorded = root.parent / f"{root.name}.{head[:12]}.native-calls.pickle"
    if not recorded.exists():
        record(root, key, recorded)
    times, commits = [], 0
    for _ in range(repeat + 1):  # the first run warms the page cache
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--replay", str(root), str(recorded)],
                             check=True, capture_output=True, text=True).stdout
        loading, commits = out.split()
        times.append(time.perf_counter() - start - float(loading))
    times = sorted(times[1:])
    return times[len(times) // 2], int(commits)


def main() -> None:
    if sys.argv[1] == "--replay":
        print(*replay(Path(sys.argv[2]), Path(sys.argv[3])))
        return
    seconds, commits = floor(Path(sys.argv[1]), Path(sys.argv[2]),
                             int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    print(f"V0 (native work of verify, {commits} commits, two processes): {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
