"""allowed_signers is read strictly, so envtrail's signer set is exactly git's.

ssh-keygen -Y verify (what `git verify-commit` runs) is the judge.
"""

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from envtrail.crypto import sshsig
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError
from envtrail.format import signers
from envtrail.format.signers import Signer

A, B, C, D = (Identity.generate() for _ in range(4))
NOW = datetime.now(UTC).replace(microsecond=0)


def keygen_accepts(tmp_path, allowed: bytes, ident: Identity, principal: str) -> bool:
    (tmp_path / "allowed").write_bytes(allowed)
    (tmp_path / "m").write_bytes(b"data")
    (tmp_path / "m.sig").write_text(sshsig.sign(ident, b"data") + "\n")
    with (tmp_path / "m").open("rb") as stdin:
        proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"),
                               "-I", principal, "-n", "git", "-s", str(tmp_path / "m.sig")],
                              stdin=stdin, capture_output=True, check=False)
    return proc.returncode == 0


def envtrail_accepts(allowed: bytes, ident: Identity, principal: str) -> bool:
    return any(s.principal == principal and s.key == ident.public.openssh and s.valid_at(NOW)
               for s in signers.parse(allowed))


def test_envtrail_and_ssh_keygen_agree_on_a_normal_file(tmp_path):
    allowed = (
        "# comment line\n"
        f"alice@example.com namespaces=\"git\" {A.public.openssh} envtrail:admin\n"
        f"bob@example.com namespaces=\"git\",valid-before=\"{(NOW - timedelta(days=1)):%Y%m%d%H%M%SZ}\" "
        f"{B.public.openssh}\n"
        f"ci:release valid-after=\"{(NOW + timedelta(days=2)):%Y%m%d}Z\" {C.public.openssh} a comment\n"
        f"dave@example.com  NAMESPACES=\"git\" {D.public.openssh}\n"
    ).encode()
    assert not signers.problems(signers.parse(allowed))
    for ident in (A, B, C, D):
        for principal in ("alice@example.com", "bob@example.com", "ci:release", "dave@example.com"):
            assert envtrail_accepts(allowed, ident, principal) == keygen_accepts(
                tmp_path, allowed, ident, principal), (principal, ident.public.openssh)
    assert envtrail_accepts(allowed, A, "alice@example.com")
    assert not envtrail_accepts(allowed, B, "bob@example.com")


def test_git_verify_commit_agrees_on_what_envtrail_wrote(cli, store, alice, bob):
    from conftest import git

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    allowed = (store / ".envtrail/allowed_signers").read_bytes()
    assert not signers.problems(signers.parse(allowed))
    assert {s.principal for s in signers.parse(allowed)} == {alice.principal, bob.principal}
    proc = subprocess.run(["git", "verify-commit", "HEAD"], cwd=store, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert git(store, "log", "-1", "--format=%G?") == "G\n"


@pytest.mark.parametrize(("line", "why"), [
    ("*@example.com {key}", "pattern"),
    ("alice@example.com,bob@example.com {key}", "pattern"),
    ("!mallory@example.com {key}", "pattern"),
    ("alice?example.com {key}", "pattern"),
    ("alice@example.com cert-authority {key}", "cert-authority"),
    ('alice@example.com namespaces="file" {key}', "namespaces"),
    ('alice@example.com namespaces="git,file" {key}', "namespaces"),
    ('alice@example.com namespaces="*" {key}', "namespaces"),
    ('alice@example.com verify-required {key}', "verify-required"),
    ('alice@example.com valid-after="20250101",valid-after="20260101" {key}', "twice"),
    ("alice@example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ", "ssh-ed25519"),
    ("alice@example.com ssh-ed25519 not-base64!!", "key"),
])
def test_lines_envtrail_does_not_understand_are_refused(line, why):
    data = ("# x\n" + line.format(key=A.public.openssh) + "\n").encode()
    with pytest.raises(IntegrityError, match=f"line 2.*{why}"):
        signers.parse(data)


def test_an_option_git_reads_differently_would_have_split_the_signer_sets(tmp_path):
    # Why namespaces="file" must be refused: ssh-keygen rejects the git signature,
    # and envtrail, ignoring the option, used to accept it.
    allowed = f'alice@example.com namespaces="file" {A.public.openssh}\n'.encode()
    assert not keygen_accepts(tmp_path, allowed, A, "alice@example.com")
    with pytest.raises(IntegrityError):
        signers.parse(allowed)


def test_overlapping_lines_of_one_principal_and_repeated_keys_are_problems():
    t0, t1, t2 = NOW - timedelta(days=10), NOW - timedelta(days=5), NOW
    ok = [Signer("a@x.io", A.public.openssh, valid_before=t1),
          Signer("a@x.io", B.public.openssh, valid_after=t1)]
    assert signers.problems(ok) == []
    overlap = [Signer("a@x.io", A.public.openssh, valid_before=t2),
               Signer("a@x.io", B.public.openssh, valid_after=t1)]
    found = signers.problems(overlap)
    assert len(found) == 1 and "a@x.io" in found[0] and "same time" in found[0]
    unbounded = [Signer("a@x.io", A.public.openssh), Signer("a@x.io", B.public.openssh)]
    assert len(signers.problems(unbounded)) == 1
    twice = [Signer("a@x.io", A.public.openssh, valid_before=t0),
             Signer("b@x.io", A.public.openssh, valid_after=t2)]
    found = signers.problems(twice)
    assert len(found) == 1 and "listed twice" in found[0]
    # parse itself does not raise for these: verify reports them as findings.
    data = signers.render(unbounded)
    assert len(signers.parse(data)) == 2
    assert signers.problems(signers.parse(data))


@pytest.mark.parametrize(("text", "when"), [
    ("20261127Z", datetime(2026, 11, 27, tzinfo=UTC)),
    ("202611271205Z", datetime(2026, 11, 27, 12, 5, tzinfo=UTC)),
    ("20261127120559Z", datetime(2026, 11, 27, 12, 5, 59, tzinfo=UTC)),
    ("2026112712Z", None), ("2026-11-27", None), ("20261327Z", None),
])
def test_times_are_read_in_ssh_keygen_forms_only(text, when):
    data = f'a@x.io valid-after="{text}" {A.public.openssh}\n'.encode()
    if when is None:
        with pytest.raises(IntegrityError, match="line 1"):
            signers.parse(data)
    else:
        assert signers.parse(data)[0].valid_after == when


@pytest.mark.parametrize("case", ["second key", "key twice"])
def test_verify_reports_contradicting_signer_lines(cli, store, alice, bob, case):
    import forge
    from envtrail.audit.record import Record
    from envtrail.ops.txn import Plan

    current = signers.parse((store / ".envtrail/allowed_signers").read_bytes())
    extra = (Signer(alice.principal, bob.identity.public.openssh) if case == "second key"
             else Signer(bob.principal, alice.identity.public.openssh))
    plan = Plan({".envtrail/allowed_signers": signers.render([*current, extra])},
                Record("signers", alice.principal, "sneak a line in", ()))
    forge.commit_plan(store, alice.identity, plan)
    r = cli("verify")
    assert r.code == 1
    expected = "two keys valid at the same time" if case == "second key" else "listed twice"
    assert f"allowed_signers: {alice.principal if case == 'second key' else 'key'}" in r.out
    assert expected in r.out


@pytest.mark.parametrize("breaker", ["\u2028", "\u2029", "\x85", "\r", "\x0b", "\x0c", "\x1c",
                                     "\x1e"])
def test_a_line_break_git_does_not_see_is_refused(tmp_path, breaker):
    # An admin hides mallory behind a break Python's splitlines() honours: to git and
    # ssh-keygen it is a comment on alice's line, so mallory must not be a signer here either.
    allowed = (f"alice@example.com {A.public.openssh} envtrail:admin{breaker}"
               f"mallory@example.com {B.public.openssh} envtrail:admin\n").encode()
    assert not keygen_accepts(tmp_path, allowed, B, "mallory@example.com")
    with pytest.raises(IntegrityError, match=f"line 1 holds U\\+{ord(breaker):04X}"):
        signers.parse(allowed)


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000", "\x1f"])
def test_a_field_separator_ssh_keygen_does_not_split_at_is_refused(space):
    allowed = f"alice@example.com {A.public.openssh}{space}envtrail:admin\n".encode()
    with pytest.raises(IntegrityError, match="line 1 holds"):
        signers.parse(allowed)
    # The same line with a plain space (or a tab) reads as an admin.
    for plain in (" ", "\t"):
        line = f"alice@example.com {A.public.openssh}{plain}envtrail:admin\n".encode()
        assert signers.parse(line)[0].admin
