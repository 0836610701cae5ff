"""Size limits hold on every parse path, the canonical fast path included."""

import base64
import functools
import time
import tracemalloc

import pytest

from conftest import assert_one_line_error, git
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import Encryptor, EnvKeys
from envtrail.errors import IntegrityError
from envtrail.format import envfile, policy, signers, yamlsafe
from envtrail.format.envfile import EnvFile, Member
from envtrail.model import MAX_VALUE_BYTES

KEYS = EnvKeys.generate()
TOKEN = str(Encryptor(KEYS.public, "production", envfile.FORMAT_VERSION).encrypt("A", "x"))
IDENT = Identity.generate()
LIMIT = yamlsafe.MAX_FILE_BYTES


def canonical(count: int, token: str = TOKEN) -> bytes:
    """A file in exactly the canonical layout with ``count`` values, built without render."""
    env = EnvFile("production", base64.b64encode(KEYS.public).decode(),
                  {"a@example.com": Member("a@example.com", IDENT.public.openssh, "c2VhbGVk")},
                  {"A": token})
    head = envfile.render(env).decode().split("values:\n")[0] + "values:\n"
    return (head + "".join(f"  V{i:08d}: {token}\n" for i in range(count))).encode()


@functools.cache
def oversized() -> bytes:
    line = len(f"  V00000000: {TOKEN}\n")
    return canonical(LIMIT // line + 10)


def test_the_oversized_file_really_is_canonical():
    small = canonical(3)
    assert envfile.render(envfile.parse(small)) == small  # the fast path's own check
    assert len(oversized()) > LIMIT


def test_oversized_canonical_file_is_refused_before_parsing():
    data = oversized()
    tracemalloc.start()
    started = time.process_time()  # this process's CPU: other test workers do not count
    try:
        with pytest.raises(IntegrityError, match="64 MiB") as caught:
            envfile.parse(data, "envs/production.yaml")
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.exit_code == 5
    assert elapsed < 0.5
    assert peak < 1024 * 1024  # no decoded copy, no line list, no parse


@pytest.mark.parametrize("layout", ["canonical", "yaml"])
def test_a_ciphertext_longer_than_a_one_mebibyte_value_is_refused(layout):
    body = base64.b64encode(b"\0" * (MAX_VALUE_BYTES + 24 + 16 + 4096)).decode()
    eph = base64.b64encode(b"\1" * 32).decode()
    data = canonical(1, f"ENC[v2,{eph},{body}]")
    if layout == "yaml":
        data = data.replace(b"values:\n", b"values:\n  # a comment leaves the canonical layout\n")
    with pytest.raises(IntegrityError, match="1 MiB"):
        envfile.parse(data, "envs/production.yaml")


def test_every_yaml_file_and_allowed_signers_have_the_cap():
    big = b"#" * (LIMIT + 1)
    for parse in (policy.parse, signers.parse, lambda d: envfile.parse(d, "x")):
        with pytest.raises(IntegrityError, match="64 MiB"):
            parse(big)


def test_cli_refuses_an_oversized_canonical_file_with_exit_5(cli, store):
    assert cli("set", "A", "--env", "production", "--reason", "r", input="v").code == 0
    (store / "envs/production.yaml").write_bytes(oversized())
    git(store, "commit", "-q", "-am", "huge")
    started = time.perf_counter()
    r = cli("get", "V00000001", "--env", "production", "--no-verify")
    assert time.perf_counter() - started < 5
    assert_one_line_error(r, 5)
    assert "64 MiB" in r.err


def test_dotenv_input_has_the_cap_too():
    from envtrail.errors import UsageError
    from envtrail.format import dotenv

    with pytest.raises(UsageError, match="64 MiB"):
        dotenv.parse("A=1\n" + "#" * LIMIT, "big.env")
    # Counted in bytes: half as many two-byte characters are as large.
    with pytest.raises(UsageError, match="64 MiB"):
        dotenv.parse("A=" + "\u00e9" * (LIMIT // 2 + 1), "big.env")


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("layout", ["canonical", "yaml"])
def test_the_largest_value_reads_back_and_the_bound_sits_just_above_it(version, layout):
    # A value of exactly 1 MiB (multi-byte characters, so padding adds a whole block)
    # must be readable on both paths; the cap on tokens exists to refuse anything longer.
    value = "é" * (MAX_VALUE_BYTES // 2)
    keys = EnvKeys.generate()
    token = str(Encryptor(keys.public, "production", version).encrypt("A", value))
    assert len(token) <= envfile.MAX_TOKEN_CHARS < len(token) + 400
    env = EnvFile("production", base64.b64encode(keys.public).decode(),
                  {"a@example.com": Member("a@example.com", IDENT.public.openssh, "c2VhbGVk")},
                  {"A": token}, version)
    data = envfile.render(env)
    if layout == "yaml":
        data = data.replace(b"values:\n", b"values:\n  # a comment leaves the canonical layout\n")
    assert envfile.parse(data, "envs/production.yaml") == env
