"""Hostile and malformed input: the documented exit code, one line, no value, no change."""

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, assert_one_line_error, git
from envtrail.format import envfile

CANARY = "CANARY-hostile-5d1e"


@pytest.fixture
def valid(cli, store):
    for k in ("A", "B"):
        assert cli("set", k, "--env", "production", "--reason", "seed", input=f"{CANARY}-{k}").code == 0
    return (store / "envs/production.yaml").read_text()


def tokens(text):
    return [ln.split(": ", 1)[1] for ln in text.splitlines() if ln.startswith(("  A:", "  B:"))]


def hostile_files(valid_text):
    a, b = tokens(valid_text)
    eph = a[len("ENC[v2,"):-1].split(",")[0]
    return {
        "empty": "",
        "not yaml": "{{{ this is : not [ yaml",
        "wrong types": valid_text.replace("members:", "members: 7\nold_members:"),
        "list at top": "- 1\n- 2\n",
        "unknown version": valid_text.replace("envtrail: 2", "envtrail: 99"),
        "truncated ciphertext": valid_text.replace(a, a[:40] + "]"),
        "garbage ciphertext": valid_text.replace(a, "ENC[v1,!!!!,????]"),
        "swapped ciphertext": valid_text.replace(f"  A: {a}", f"  A: {b}"),
        "tampered body": valid_text.replace(a, f"ENC[v2,{eph},{base64.b64encode(b'x' * 72).decode()}]"),
        "format 1 token in a format 2 file": valid_text.replace(a, "ENC[v1" + a[6:]),
        "plaintext value": valid_text.replace(a, "hunter2"),
        "alias bomb": "a: &a ['x','x']\n" + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
        "python tag": "envtrail: !!python/object/apply:os.system ['touch /tmp/envtrail-pwned']\n",
        "duplicate keys": valid_text + f"  A: {a}\n",
        "invalid utf-8": valid_text.encode() + b"\xff\xfe\n",
        "nul byte": valid_text.replace("values:", "val\x00ues:"),
        "over-long name": valid_text.replace("  A: ", "  " + "A" * 300 + ": "),
        "path-like environment": valid_text.replace("environment: production",
                                                    "environment: ../../etc"),
        "integer too large to build": valid_text.replace("envtrail: 2", "envtrail: " + "9" * 5000),
    }


CASES = list(hostile_files("envtrail: 2\n  A: ENC[v2,x,y]\n  B: ENC[v2,x,y]\n"))


@pytest.mark.parametrize("case", CASES)
def test_hostile_environment_file(cli, store, valid, case):
    data = hostile_files(valid)[case]
    (store / "envs/production.yaml").write_bytes(data if isinstance(data, bytes) else data.encode())
    git(store, "commit", "-q", "-am", f"hostile: {case}")
    head = git(store, "rev-parse", "HEAD")
    for args, code in ((("get", "A", "--env", "production", "--no-verify"), 5),
                       (("export", "--env", "production", "--no-verify"), 5),
                       (("set", "C", "--env", "production", "--reason", "r"), 5),
                       (("get", "A", "--env", "production"), 5)):
        r = cli(*args, input="v")
        assert_one_line_error(r, code)
        assert CANARY not in r.both
        assert git(store, "rev-parse", "HEAD") == head
    report = cli("verify")
    assert report.code == 1
    assert CANARY not in report.both
    assert not Path("/tmp/envtrail-pwned").exists()


def test_huge_file_is_bounded(cli, store, valid):
    lines = valid.splitlines()
    head = "\n".join(lines[:lines.index("values:") + 1])
    token = tokens(valid)[0]
    body = "".join(f"  V{i:06d}: {token}\n" for i in range(200_000))
    (store / "envs/production.yaml").write_text(head + "\n" + body)
    git(store, "commit", "-q", "-am", "huge")
    proc = subprocess.run(
        [sys.executable, "-c",
         "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
         "from envtrail.cli import main; sys.argv=['envtrail','get','V000001','--env','production',"
         "'--no-verify']; main()"],
        cwd=store, env=cli._env(None), capture_output=True, text=True, timeout=60, check=False)
    # Every value is a copy of A's ciphertext, so V000001 does not authenticate: exit 5.
    # The bounds are the child's 1 GiB address space (exceeding it would end in a
    # MemoryError, exit 1) and the 60 s timeout (exceeding it raises TimeoutExpired).
    assert proc.returncode == 5, proc.stderr
    assert "does not authenticate" in proc.stderr


def test_corrupted_identity(cli, store, alice, tmp_path):
    bad = tmp_path / "bad-key"
    text = alice.path.read_text()
    bad.write_text(text[:200] + "AAAA" + text[204:])
    bad.chmod(0o600)
    r = cli("--identity", str(bad), "get", "A", "--env", "production")
    assert_one_line_error(r, 4)
    assert "identity" in r.err


def test_sealed_key_for_another_member(cli, store, bob):
    assert cli("set", "A", "--env", "production", "--reason", "r", input=CANARY).code == 0
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    env = envfile.parse((store / "envs/production.yaml").read_bytes())
    alice_m, bob_m = env.members["alice@example.com"], env.members["bob@example.com"]
    swapped = env.with_members({
        "alice@example.com": envfile.Member(alice_m.principal, alice_m.key, bob_m.sealed),
        "bob@example.com": bob_m})
    (store / "envs/production.yaml").write_bytes(envfile.render(swapped))
    git(store, "commit", "-q", "-am", "swap sealed keys")
    r = cli("get", "A", "--env", "production", "--no-verify")
    assert_one_line_error(r, 5)
    assert "does not open" in r.err
    assert CANARY not in r.both
    assert Cli(store, bob)("get", "A", "--env", "production", "--no-verify").out == CANARY
