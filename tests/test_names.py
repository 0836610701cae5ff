"""Every name check matches the whole string: a trailing newline never slips through."""

import base64

import pytest

from conftest import assert_one_line_error, git
from envtrail.crypto.seal import Encryptor, EnvKeys
from envtrail.errors import IntegrityError, UsageError
from envtrail.format import dotenv, envfile
from envtrail.model import Ciphertext, check_env_name, check_principal, check_var_name

KEYS = EnvKeys.generate()
TOKEN = str(Encryptor(KEYS.public, "production", 2).encrypt("A", "x"))
PUBLIC = base64.b64encode(KEYS.public).decode()


@pytest.mark.parametrize(("check", "good"), [
    (check_env_name, "production"), (check_var_name, "API_KEY"), (check_principal, "a@example.com"),
])
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\n\n", " "])
def test_name_checks_refuse_a_trailing_newline(check, good, tail):
    assert check(good) == good
    with pytest.raises(UsageError):
        check(good + tail)


def test_ciphertext_shape_is_a_full_match():
    assert Ciphertext.looks_like(TOKEN)
    assert not Ciphertext.looks_like(TOKEN + "\n")
    with pytest.raises(ValueError, match="ENC"):
        Ciphertext.parse(TOKEN + "\n")


@pytest.mark.parametrize("doc", [
    f'envtrail: 1\nenvironment: "production\\n"\npublic_key: {PUBLIC}\nmembers: {{}}\nvalues: {{}}\n',
    f'envtrail: 1\nenvironment: production\npublic_key: {PUBLIC}\nmembers: {{}}\n'
    f'values:\n  "A\\n": {TOKEN}\n',
    f'envtrail: 1\nenvironment: production\npublic_key: {PUBLIC}\n'
    f'members:\n  "a@example.com\\n": {{key: ssh-ed25519 AAAA, sealed: c2Vh}}\nvalues: {{}}\n',
    f'envtrail: 1\nenvironment: production\npublic_key: {PUBLIC}\nmembers: {{}}\n'
    f'values:\n  A: "{TOKEN}\\n"\n',
])
def test_environment_file_names_are_full_matches(doc):
    with pytest.raises(IntegrityError):
        envfile.parse(doc.encode())


def test_dotenv_key_with_newline_is_refused():
    # python-dotenv reads a quoted-looking key literally; the name check must refuse it.
    with pytest.raises(UsageError):
        dotenv.parse("'A\n'=x\n", "input")


def test_cli_refuses_a_name_with_a_trailing_newline_and_writes_nothing(cli, store):
    before = git(store, "rev-parse", "HEAD")
    r = cli("set", "KEY\n", "--env", "production", "--reason", "x", input="v\n")
    assert_one_line_error(r, 2)
    r = cli("env", "add", "qa\n", "--reason", "x")
    assert_one_line_error(r, 2)
    assert git(store, "rev-parse", "HEAD") == before
    assert cli("list", "--env", "production").code == 0
