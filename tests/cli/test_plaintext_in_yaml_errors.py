"""A plaintext pasted into an environment file by hand never comes back in an error.

PyYAML quotes what it could not read: a value starting with `!` reads as a tag, and
"could not determine a constructor for the tag '!<the password>'" went into the
pre-commit hook's refusal and, once such a file was committed, into every finding,
`sync` error and refused read in every clone and CI log (attack36 I2).
"""

from __future__ import annotations

import re

import pytest

from conftest import git
from envtrail.errors import IntegrityError
from envtrail.format import envfile

SECRET = "Qaz2wsxEdc-7f3e9d"


def _hand_edited(text: str, value: str) -> str:
    """The file with DB's ciphertext replaced by ``value``, as a hand edit would."""
    return re.sub(r"(?m)^(  DB: ).*$", lambda m: m.group(1) + value, text)


@pytest.mark.parametrize("value", [f"!{SECRET}", f"!!{SECRET}", f"!{SECRET} and more",
                                   f"!<{SECRET}>", f"\"{SECRET}\\q\"", f"*{SECRET}"])
def test_a_yaml_error_names_the_line_never_the_text(cli, store, value):
    assert cli("set", "DB", "--env", "production", "--reason", "r", input="x").code == 0
    text = _hand_edited((store / "envs/production.yaml").read_text(), value)
    with pytest.raises(IntegrityError) as caught:
        envfile.parse(text.encode(), "envs/production.yaml")
    assert SECRET not in caught.value.message
    assert re.search(r"not valid YAML \(line \d+\)", caught.value.message), caught.value.message


def test_a_hand_edit_with_a_plaintext_is_refused_and_reported_without_it(cli, store):
    assert cli("set", "DB", "--env", "production", "--reason", "r", input="x").code == 0
    path = store / "envs/production.yaml"
    path.write_text(_hand_edited(path.read_text(), f"!{SECRET}"))
    git(store, "add", "envs/production.yaml")
    r = cli("hook", "pre-commit")
    assert r.code != 0 and "not a valid, fully encrypted environment" in r.out + r.err
    assert SECRET not in r.out + r.err
    # Committed anyway (the hook skipped), it is a finding in every walk: still unnamed.
    git(store, "commit", "-q", "--no-verify", "-m", "hand edit")
    for args in (("verify",), ("get", "DB", "--env", "production"), ("log",)):
        r = cli(*args)
        assert SECRET not in r.out + r.err, args
    assert cli("verify").code == 1
