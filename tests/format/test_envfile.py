"""The environment file: canonical rendering and strict parsing."""

import base64
import contextlib
from dataclasses import replace

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import Encryptor, EnvKeys
from envtrail.errors import IntegrityError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile, Member

KEYS = EnvKeys.generate()
ENC = Encryptor(KEYS.public, "production", 2)
TOKEN = str(ENC.encrypt("A", "x"))
TOKEN_V1 = str(Encryptor(KEYS.public, "production", 1).encrypt("A", "x"))
IDENT = Identity.generate()


def sample(values=None, members=None) -> EnvFile:
    members = members if members is not None else {
        "alice@example.com": Member("alice@example.com", IDENT.public.openssh, "c2VhbGVk")}
    return EnvFile("production", base64.b64encode(KEYS.public).decode(), members,
                   values if values is not None else {"B": TOKEN, "A": TOKEN})


def test_render_is_canonical_and_parses_back():
    env = sample()
    data = envfile.render(env)
    text = data.decode()
    assert text.startswith("# Encrypted by envtrail.")
    assert text.index("  A: ") < text.index("  B: ")  # sorted
    assert envfile.parse(data) == env
    assert envfile.render(envfile.parse(data)) == data


def test_one_line_per_value():
    data = envfile.render(sample({f"K{i}": TOKEN for i in range(10)})).decode()
    assert sum(1 for line in data.splitlines() if line.startswith("  K")) == 10


principals = st.from_regex(r"\A[A-Za-z0-9._%+@:-]{1,40}\Z")
names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,30}\Z")


@given(st.dictionaries(principals, st.just(IDENT.public.openssh), max_size=4),
       st.dictionaries(names, st.just(TOKEN), max_size=8))
def test_roundtrip_any_principals_and_names(members, values):
    env = sample(values, {p: Member(p, k, "c2VhbGVk") for p, k in members.items()})
    assert envfile.parse(envfile.render(env)) == env


@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_raise_integrity_errors(data):
    with contextlib.suppress(IntegrityError):
        envfile.parse(data)


VALID = envfile.render(sample()).decode()
PK = sample().public_key


@pytest.mark.parametrize(("text", "message"), [
    ("", "not an envtrail environment file"),
    ("just text", "not an envtrail environment file"),
    ("[1, 2", "not valid YAML"),
    (VALID.replace("envtrail: 2", "envtrail: 3"), "unknown format version"),
    (VALID.replace("envtrail: 2", "envtrail: 0"), "unknown format version"),
    (VALID.replace("envtrail: 2", "envtrail: true"), "unknown format version"),
    (VALID.replace(TOKEN, TOKEN_V1, 1), "format 1 ciphertext in a format 2 file"),
    (VALID.replace("envtrail: 2", "envtrail: 1"), "format 2 ciphertext in a format 1 file"),
    (VALID.replace(TOKEN, "plaintext-secret", 1), "not encrypted"),
    (VALID.replace(TOKEN, TOKEN[:70] + "]", 1), "not encrypted"),
    (VALID.split("values:")[0] + "values: 3\n", "'values' must be a mapping"),
    (VALID.split("members:")[0] + "members: [a]\nvalues: {}\n", "'members' must be a mapping"),
    (VALID + "  A: " + TOKEN + "\n", "duplicate key"),
    (VALID.replace("environment: production", "environment: ../etc"), "invalid 'environment'"),
    (VALID + "extra: 1\n", "unknown field"),
    ("envtrail: !!python/object/apply:os.system ['true']", "not valid YAML"),
    ("a: &a [1]\nb: *a\n", "aliases are not allowed"),
    (VALID.replace("  A: ", "  1BAD: ", 1), "invalid variable name"),
    # members, as the YAML path reads them (each edit takes the file off the fast path)
    (VALID.replace("  alice@example.com:", "  'alice example.com':", 1), "invalid member principal"),
    (VALID.replace("  alice@example.com:", "  7:", 1), "invalid member principal"),
    (VALID.replace("key: ssh-ed25519 ", "key: ssh-rsa ", 1), "has an invalid key"),
    (VALID.replace("key: ssh-ed25519 ", "key: ssh-ed25519", 1), "has an invalid key"),
    (VALID.replace(f"key: {IDENT.public.openssh}", "key: 7", 1), "has an invalid key"),
    (VALID.replace("sealed: c2VhbGVk", "sealed: 7", 1), "has an invalid sealed key"),
    (VALID.replace("sealed: c2VhbGVk", "sealed: [c2VhbGVk]", 1), "has an invalid sealed key"),
    # a public key is strict base64 of 32 bytes: a stray character is not skipped over
    (VALID.replace(PK, PK[:10] + "." + PK[10:], 1), "invalid 'public_key'"),
    (VALID.replace(PK, PK[:10] + "-" + PK[10:], 1), "invalid 'public_key'"),
])
def test_malformed_files_are_integrity_errors(text, message):
    with pytest.raises(IntegrityError, match=message):
        envfile.parse(text.encode(), "envs/production.yaml")


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a ['x','x']\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    with pytest.raises(IntegrityError, match="aliases"):
        envfile.parse(bomb.encode())


def test_invalid_utf8_and_nul():
    with pytest.raises(IntegrityError, match="UTF-8"):
        envfile.parse(b"envtrail: 1\n\xff\xfe")
    with pytest.raises(IntegrityError, match="NUL"):
        envfile.parse(VALID.encode().replace(b"values:", b"val\x00ues:"))


def test_python_tag_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(IntegrityError):
        envfile.parse(payload.encode())
    assert not marker.exists()


def test_yaml_library_reads_it_as_plain_yaml():
    doc = yaml.safe_load(VALID)
    assert doc["envtrail"] == 2
    assert doc["values"]["A"] == TOKEN


def _slow(data: bytes) -> EnvFile:
    from envtrail.format import yamlsafe

    doc = yamlsafe.load(data, "x")
    members = {p: Member(p, m["key"], m["sealed"]) for p, m in (doc["members"] or {}).items()}
    return EnvFile(doc["environment"], doc["public_key"], members, doc["values"] or {})


@given(st.dictionaries(principals, st.just(IDENT.public.openssh), max_size=3),
       st.dictionaries(names, st.just(TOKEN), max_size=6))
def test_canonical_fast_path_agrees_with_yaml(members, values):
    env = sample(values, {p: Member(p, k, "c2VhbGVk") for p, k in members.items()})
    data = envfile.render(env)
    fast = envfile._parse_canonical(data)
    # The fast path may decline (e.g. a quoted principal "0"); it may never disagree.
    assert fast in (None, env)
    assert envfile.parse(data) == _slow(data) == env


@pytest.mark.parametrize("extra", [b"x", b"0", b" ", b"\n", b"\r", b"'", b"#", b":", b"\xff",
                                   b"\xc3", b"\xc3\xa9", b"\xe2\x80\xa8", b"\n\n"])
def test_a_byte_spliced_anywhere_never_makes_the_paths_disagree(extra):
    # The fast path cuts the file into pieces as bytes and decodes each piece alone: a
    # stray byte (not UTF-8, a line break, a quote) at any place must still leave it
    # declining or reading what YAML reads.
    valid = VALID.encode()
    for at in range(len(valid) + 1):
        data = valid[:at] + extra + valid[at:]
        fast = envfile._parse_canonical(data)
        if fast is not None:
            assert fast == replace(_slow(data), version=yaml.safe_load(data)["envtrail"]), at


@pytest.mark.parametrize("edit", [
    lambda b: b.replace(b"environment: production", b"environment: pr\xffoduction"),
    lambda b: b.replace(b"  A: ENC", b"  A\xc3: ENC"),
])
def test_a_byte_that_is_not_utf8_never_takes_the_fast_path(edit):
    data = edit(VALID.encode())
    assert data != VALID.encode()
    assert envfile._parse_canonical(data) is None
    with pytest.raises(IntegrityError):
        envfile.parse(data, "envs/production.yaml")


def test_a_unicode_line_break_among_the_values_is_left_to_yaml():
    # U+2028 is a line break to YAML, not to the fast path: YAML alone decides.
    data = VALID.encode().replace(b"values:\n", b"values:\n\xe2\x80\xa8", 1)
    assert envfile._parse_canonical(data) is None
    assert envfile.parse(data) == _slow(data)


@pytest.mark.parametrize("env", [sample(), sample(values={}), sample(members={}),
                                 sample(values={}, members={})])
def test_typical_files_take_the_fast_path(env):
    assert envfile._parse_canonical(envfile.render(env)) == env


@pytest.mark.parametrize("edit", [
    lambda t: t.replace(f"  A: {TOKEN}\n  B: {TOKEN}", f"  B: {TOKEN}\n  A: {TOKEN}"),  # order
    lambda t: t.replace(f"  A: {TOKEN}\n", f"  A: {TOKEN}\n  A: {TOKEN}\n"),  # a name twice
    lambda t: t.replace(f"  A: {TOKEN}\n", f"  A: {TOKEN_V1}\n"),  # another format's token
    lambda t: t.replace("values:\n", "values:\n\n"),  # a blank line among the values
])
def test_value_lines_out_of_canon_never_take_the_fast_path(edit):
    # Each value line is checked on its own (and remembered): order, uniqueness and
    # format are what the file as a whole must add, or the fast path would disagree.
    data = edit(VALID).encode()
    assert data != VALID.encode()
    assert envfile._parse_canonical(data) is None


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("  A: ", "  A:  "),            # extra space: valid YAML, not canonical
    lambda t: t.replace("  A: ", "  'A': "),           # quoted key
    lambda t: t.replace("envtrail: 2\n", "envtrail: 2 # c\n"),
    lambda t: t + "\n",
])
def test_non_canonical_but_valid_yaml_takes_the_yaml_path(edit):
    data = edit(VALID).encode()
    assert envfile._parse_canonical(data) is None
    assert envfile.parse(data).values == sample().values


def test_reserved_word_names_are_quoted_and_read_back():
    env = sample({"null": TOKEN, "true": TOKEN, "Yes": TOKEN})
    data = envfile.render(env)
    assert b'  "null": ' in data
    assert envfile.parse(data) == env
    assert _slow(data) == env


# -- format versions -------------------------------------------------------


def sample_v1(values=None) -> EnvFile:
    env = sample(values if values is not None else {"B": TOKEN_V1, "A": TOKEN_V1})
    return replace(env, version=1)


def test_new_files_are_format_2():
    assert envfile.FORMAT_VERSION == 2
    assert sample().version == 2
    assert envfile.render(sample()).decode().splitlines()[1] == "envtrail: 2"


def test_format_1_file_reads_and_renders_back_byte_equal():
    data = envfile.render(sample_v1())
    assert data.decode().splitlines()[1] == "envtrail: 1"
    assert "ENC[v1," in data.decode() and "ENC[v2," not in data.decode()
    env = envfile.parse(data)
    assert env.version == 1
    assert envfile.render(env) == data
    # Both parse paths agree on the version.
    assert envfile._parse_canonical(data) == env
    slow = envfile.parse(data.replace(b"envtrail: 1\n", b"envtrail: 1 # old\n"))
    assert slow == env


@pytest.mark.parametrize(("version", "token"), [(1, TOKEN), (2, TOKEN_V1)])
def test_canonical_path_refuses_a_token_of_the_other_format(version, token):
    good = sample_v1() if version == 1 else sample()
    data = envfile.render(good).replace(
        (TOKEN_V1 if version == 1 else TOKEN).encode(), token.encode(), 1)
    assert envfile._parse_canonical(data) is None
    with pytest.raises(IntegrityError, match=f"in a format {version} file"):
        envfile.parse(data)


def test_render_refuses_a_mixed_file():
    with pytest.raises(ValueError, match="another format"):
        envfile.render(replace(sample(), values={"A": TOKEN, "B": TOKEN_V1}))
    with pytest.raises(ValueError, match="unknown format version"):
        envfile.render(replace(sample(), version=3))


@pytest.mark.parametrize(("edit", "says"), [
    (lambda t: t.replace("environment: production", "environment: prod/uction"), "environment"),
    (lambda t: t.replace(f"public_key: {sample().public_key}", "public_key: AAAA"), "public_key"),
    (lambda t: t.replace("sealed: c2VhbGVk", "sealed: "), "sealed"),
])
def test_a_canonical_looking_file_with_a_bad_field_is_refused_by_name(edit, says):
    data = edit(VALID).encode()
    assert data != VALID.encode()
    assert envfile._parse_canonical(data) is None
    with pytest.raises(IntegrityError) as err:
        envfile.parse(data, "envs/production.yaml")
    assert says in err.value.message and "envs/production.yaml" in err.value.message


@pytest.mark.parametrize("text", [
    VALID.split("values:")[0] + "values:\n",  # a values block with no value
    "".join(VALID.splitlines(keepends=True)[:2]) + "values: {}\n",  # no names, no members
    "".join(VALID.splitlines(keepends=True)[:4]) + "members:\n  alice@example.com:\n"
    "values: {}\n",  # a member without key and sealed lines
])
def test_truncated_heads_never_take_the_fast_path(text):
    # Each is refused by the YAML path too, so the two paths never disagree; a short head
    # is an IntegrityError, never an IndexError.
    assert envfile._parse_canonical(text.encode()) is None
    with pytest.raises(IntegrityError):
        envfile.parse(text.encode(), "envs/production.yaml")


def test_members_out_of_order_take_the_yaml_path_and_read_the_same():
    zed = Member("zed@example.com", IDENT.public.openssh, "c2VhbGVk")
    text = VALID.replace("members:\n", "members:\n  zed@example.com:\n    key: "
                         + IDENT.public.openssh + "\n    sealed: c2VhbGVk\n")
    assert envfile._parse_canonical(text.encode()) is None
    parsed = envfile.parse(text.encode())
    assert parsed.members == {**sample().members, "zed@example.com": zed}


@pytest.mark.parametrize(("length", "ok"), [(256, True), (257, False)])
def test_the_yaml_path_holds_the_name_limit_the_canonical_one_does(length, ok):
    from envtrail.model import MAX_VAR_NAME

    name = "N" * length
    # A trailing comment takes the file off the fast path: the YAML path decides alone.
    text = VALID.replace("  A: ", f"  {name}: ", 1) + "# a comment\n"
    assert envfile._parse_canonical(text.encode()) is None
    assert (length <= MAX_VAR_NAME) is ok
    if ok:
        assert name in envfile.parse(text.encode()).values
    else:
        with pytest.raises(IntegrityError, match="invalid variable name"):
            envfile.parse(text.encode(), "envs/production.yaml")


def test_a_member_is_found_by_key_whatever_the_comments():
    # A key line's third word is a comment (`ssh-keygen -C`): a member is the key itself.
    other = Identity.generate()
    plain = sample(members={"alice@example.com": Member("alice@example.com", IDENT.public.openssh,
                                                         "c2VhbGVk")})
    commented = sample(members={"alice@example.com": Member(
        "alice@example.com", IDENT.public.openssh + " alice@laptop", "c2VhbGVk")})
    for env in (plain, commented):
        for query in (IDENT.public.openssh, IDENT.public.openssh + " alice@desktop"):
            assert env.member_with_key(query) == env.members["alice@example.com"], query
        assert env.member_with_key(other.public.openssh + " alice@laptop") is None


def test_the_first_member_holding_a_key_is_found_even_if_a_later_line_is_exact():
    # Two seats of one key (a file edited by hand) are answered as before: the first in
    # the file's order, not the one whose line happens to equal the query's.
    line = IDENT.public.openssh
    env = sample(members={
        "a@example.com": Member("a@example.com", line + " laptop", "c2VhbGVk"),
        "b@example.com": Member("b@example.com", line, "c2VhbGVk"),
    })
    assert env.member_with_key(line) == env.members["a@example.com"]
    assert env.member_with_key(line + " desktop") == env.members["a@example.com"]


def test_with_members_and_with_values_are_copies():
    env = sample()
    bob = Member("bob@example.com", Identity.generate().public.openssh, "c2VhbGVk")
    grown = env.with_members({**env.members, bob.principal: bob})
    assert set(grown.members) == {"alice@example.com", "bob@example.com"}
    assert set(env.members) == {"alice@example.com"}
    assert grown.with_values({}).values == {} and grown.values == env.values


def test_an_environment_without_members_renders_as_an_empty_map_and_reads_back():
    env = sample(members={})
    data = envfile.render(env)
    assert b"\nmembers: {}\n" in data
    assert envfile.parse(data) == env
