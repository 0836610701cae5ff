"""allowed_signers (judged by ssh-keygen) and policy.yaml."""

import subprocess
from datetime import UTC, datetime

import pytest

from envtrail.crypto import sshsig
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError
from envtrail.format import policy, signers
from envtrail.format.signers import Signer


def test_roundtrip_with_admin_and_validity():
    a, b = Identity.generate(), Identity.generate()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    lst = [Signer("alice@example.com", a.public.openssh, admin=True),
           Signer("ci:deploy", b.public.openssh, valid_before=when)]
    assert signers.parse(signers.render(lst)) == lst


@pytest.mark.parametrize(("valid_before", "accepted"),
                         [(None, True), (datetime(2000, 1, 1, tzinfo=UTC), False)])
def test_ssh_keygen_honours_our_lines(tmp_path, valid_before, accepted):
    ident = Identity.generate()
    s = Signer("alice@example.com", ident.public.openssh, admin=True, valid_before=valid_before)
    (tmp_path / "allowed").write_bytes(signers.render([s]))
    (tmp_path / "m").write_bytes(b"data")
    (tmp_path / "m.sig").write_text(sshsig.sign(ident, b"data") + "\n")
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"),
                           "-I", "alice@example.com", "-n", "git", "-s", str(tmp_path / "m.sig")],
                          stdin=(tmp_path / "m").open("rb"), capture_output=True, check=False)
    assert (proc.returncode == 0) is accepted


def test_bad_line_is_integrity_error():
    with pytest.raises(IntegrityError, match="line 1"):
        signers.parse(b"alice@example.com\n")


def test_policy_defaults_and_overrides():
    p = policy.parse(b"envtrail: 1\ndefaults:\n  require_reason: true\nenvironments:\n"
                     b"  production:\n    reason_pattern: '[A-Z]+-[0-9]+'\n    writers: [admins]\n")
    assert p.rule_for("staging").reason_pattern is None
    assert p.rule_for("staging").writers is None
    prod = p.rule_for("production")
    assert (prod.require_reason, prod.reason_pattern, prod.writers) == (True, "[A-Z]+-[0-9]+",
                                                                        ("admins",))
    assert policy.parse(policy.render(p)) == p


@pytest.mark.parametrize("word", ["admins", "any", "members"])
def test_no_principal_takes_a_word_of_policy_yaml(word):
    """attack33 K2: `writers: [admins]` let a member named `admins` write where only admins
    may. No new principal takes such a word, and none ever matches one in a policy; one
    granted before stays readable and revocable (attack34 N3: refusing the line made a
    store whose allowed_signers held one unreadable after an upgrade)."""
    from envtrail.errors import UsageError
    from envtrail.model import check_new_principal, check_principal

    with pytest.raises(UsageError, match="a word of policy"):
        check_new_principal(word)
    assert check_principal(word) == word
    line = f"{word} {Identity.generate().public.openssh}\n".encode()
    assert signers.parse(line)[0].principal == word
    p = policy.parse(b"envtrail: 1\nenvironments:\n  production:\n    writers: [admins]\n")
    assert p.violation("production", "admins", False, "r") is not None
    assert p.violation("production", "alice@example.com", True, "r") is None


@pytest.mark.parametrize("text", [
    b"envtrail: 1\ndefaults:\n  unknown: 1\n",
    b"envtrail: 1\ndefaults:\n  reason_pattern: '['\n",
    b"envtrail: 1\ndefaults:\n  writers: 7\n",
    b"envtrail: 2\n",
])
def test_policy_rejects_bad_files(text):
    with pytest.raises(IntegrityError):
        policy.parse(text)
