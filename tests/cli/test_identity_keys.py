"""identity new never writes through a link; passphrase-protected keys, judged by ssh-keygen."""

import os
import stat
import subprocess

import pytest

from conftest import Cli, assert_one_line_error


@pytest.mark.parametrize("which", ["key", "pub"])
@pytest.mark.parametrize("dangling", [False, True])
def test_identity_new_refuses_a_symlink_and_leaves_its_target_alone(tmp_path, which, dangling):
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
    out = tmp_path / "keys" / "id"
    out.parent.mkdir()
    link = out if which == "key" else out.with_name("id.pub")
    link.symlink_to(victim)
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert_one_line_error(r, 2)
    assert "already exists" in r.err
    assert link.is_symlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == "precious\n"
    # Nothing half-written: no key without its public line, or the other way round.
    assert sorted(p.name for p in out.parent.iterdir()) == [link.name]


def test_identity_new_refuses_an_existing_public_key_file(tmp_path):
    out = tmp_path / "id"
    out.with_name("id.pub").write_text("someone's\n")
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert_one_line_error(r, 2)
    assert not out.exists()
    assert out.with_name("id.pub").read_text() == "someone's\n"


def test_identity_new_key_is_0600_from_creation(tmp_path):
    out = tmp_path / "id"
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert r.code == 0, r.err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    keygen = subprocess.run(["ssh-keygen", "-y", "-f", str(out)], capture_output=True, text=True,
                            check=True)
    assert keygen.stdout.split()[:2] == r.out.split()[:2]
