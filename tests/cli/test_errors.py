"""Exit codes and one-line errors (DESIGN section 6); a failed command changes nothing."""

import re

import pytest

from conftest import Cli, assert_one_line_error, git
from envtrail.format import envfile


def snapshot(store):
    return (git(store, "rev-parse", "HEAD"), git(store, "status", "--porcelain"),
            (store / "envs/production.yaml").read_bytes())


def test_moved_ciphertext_fails_with_integrity_error(cli, store):
    cli("set", "A", "--env", "production", "--reason", "x", input="alpha")
    cli("set", "B", "--env", "production", "--reason", "x", input="beta")
    cli("set", "A", "--env", "staging", "--reason", "x", input="alpha")
    prod = envfile.parse((store / "envs/production.yaml").read_bytes())
    # Swap A's ciphertext into B, commit by hand, and read B.
    swapped = prod.with_values({"A": prod.values["A"], "B": prod.values["A"]})
    (store / "envs/production.yaml").write_bytes(envfile.render(swapped))
    git(store, "commit", "-qam", "tamper")
    r = cli("get", "B", "--env", "production")
    assert_one_line_error(r, 5)
    assert "history does not verify" in r.err  # the unsigned commit is caught first
    r = cli("get", "B", "--env", "production", "--no-verify")
    assert r.code == 5
    assert "does not authenticate" in r.err
    # A ciphertext moved across environments fails the same way.
    stg = envfile.parse((store / "envs/staging.yaml").read_bytes())
    moved = stg.with_values({"A": prod.values["A"]})
    (store / "envs/staging.yaml").write_bytes(envfile.render(moved))
    git(store, "commit", "-qam", "tamper2")
    r = cli("get", "A", "--env", "staging", "--no-verify")
    assert r.code == 5
    assert "does not authenticate" in r.err


def test_non_member_gets_access_denied(cli, bob):
    cli("set", "A", "--env", "production", "--reason", "x", input="v")
    r = cli.as_(bob)("get", "A", "--env", "production")
    assert_one_line_error(r, 4)
    r = cli.as_(bob)("set", "A", "--env", "production", "--reason", "x", input="w")
    assert_one_line_error(r, 4)


def test_no_identity_is_access_denied(cli):
    r = cli.as_(None)("get", "A", "--env", "production")
    assert_one_line_error(r, 4)
    assert "identity new" in r.err


@pytest.mark.parametrize("args", [
    ("get", "MISSING", "--env", "production"),
    ("get", "A", "--env", "nosuchenv"),
    ("unset", "MISSING", "--env", "production", "--reason", "x"),
    ("export", "--env", "nosuchenv"),
])
def test_not_found_is_exit_3(cli, store, args):
    before = snapshot(store)
    assert_one_line_error(cli(*args), 3)
    assert snapshot(store) == before


def test_outside_a_store_is_exit_3(tmp_path, alice):
    assert_one_line_error(Cli(tmp_path, alice)("get", "A", "--env", "production"), 3)


@pytest.mark.parametrize("args", [
    ("get", "A", "--env", "../../etc/passwd"),
    ("get", "A", "--env", "Prod"),
    ("get", "A", "--env", "a" * 65),
    ("get", "1BAD", "--env", "production"),
    ("set", "BAD-NAME", "--env", "production", "--reason", "x"),
    ("set", "A" * 300, "--env", "production", "--reason", "x"),
    ("env", "add", "../escape", "--reason", "x"),
    ("export", "--env", "production", "--format", "xml"),
    ("set", "A", "--env", "production", "--reason", "two\nlines"),
    ("get", "A", "--env", "production", "--no-such-flag"),
])
def test_bad_names_and_usage_are_exit_2(cli, store, args):
    before = snapshot(store)
    r = cli(*args, input="v")
    assert_one_line_error(r, 2)
    assert snapshot(store) == before


@pytest.mark.parametrize("reason", [
    "CHG-9 \u202edevorppa moc.elpmaxe@ecila", "iso \u2066x\u2069", "zero\u200bwidth",
    "\ufeffbom", "soft\u00adhyphen", "tag \U000e0041", "line\u2028break",
])
def test_a_reason_with_format_characters_is_exit_2(cli, store, reason):
    """attack12b G1: a bidi override reorders the reason wherever it is read raw (git log,
    a CI page, an editor), a zero-width character hides a word from grep. envtrail never
    signs one, so a record holding one can be refused (see the record tests)."""
    before = snapshot(store)
    for args in (("set", "A", "--env", "production"), ("event", "deploy", "--env", "production")):
        r = cli(*args, "--reason", reason, input="v")
        assert_one_line_error(r, 2)
        assert f"U+{ord(next(c for c in reason if not c.isprintable())):04X}" in r.err, r.err
    assert snapshot(store) == before


def test_a_reason_that_is_not_utf8_is_exit_2(cli, store):
    # A byte that is not UTF-8 in argv reaches Python as a lone surrogate, which no commit
    # message can hold: a usage error, not an encoder's crash.
    before = snapshot(store)
    r = cli.sub("set", "A", "--env", "production", "--reason", "caf\udce9", input="v")
    assert_one_line_error(r, 2)
    assert "U+DCE9" in r.err
    assert snapshot(store) == before


def test_dirty_environment_file_refuses_write(cli, store):
    cli("set", "A", "--env", "production", "--reason", "x", input="v")
    path = store / "envs/production.yaml"
    path.write_text(path.read_text().replace("values:", "values:  "))
    before = snapshot(store)
    r = cli("set", "B", "--env", "production", "--reason", "x", input="w")
    assert_one_line_error(r, 6)
    assert "uncommitted changes" in r.err
    assert snapshot(store) == before
    # Reads still answer from HEAD, with a warning.
    r = cli("get", "A", "--env", "production")
    assert (r.code, r.out) == (0, "v")
    assert "differs from the store branch" in r.err
    # Staged (not just modified) edits are refused too.
    git(store, "add", "envs/production.yaml")
    assert_one_line_error(cli("set", "B", "--env", "production", "--reason", "x", input="w"), 6)


def test_empty_reason_refused_by_default_policy(cli, store):
    before = snapshot(store)
    r = cli("set", "A", "--env", "production", input="v")
    assert_one_line_error(r, 4)
    assert "require_reason" in r.err
    assert snapshot(store) == before


def test_corrupt_environment_file_committed_is_exit_5(cli, store):
    (store / "envs/production.yaml").write_text("envtrail: 7\n")
    git(store, "commit", "-qam", "break")
    r = cli("get", "A", "--env", "production", "--no-verify")
    assert r.code == 5
    assert "unknown format version" in r.err
    assert_one_line_error(cli("get", "A", "--env", "production"), 5)


def test_unexpected_errors_show_no_traceback_unless_debug(cli, store, monkeypatch):
    from envtrail.ops import fastread

    def boom(*a, **k):
        raise RuntimeError("internal detail s3cr3t")

    monkeypatch.setattr(fastread, "read_verified", boom)
    r = cli("get", "A", "--env", "production")
    assert r.code == 1
    assert "s3cr3t" not in r.err and "Traceback" not in r.err
    assert re.search(r"unexpected RuntimeError", r.err)
    with pytest.raises(RuntimeError):  # ENVTRAIL_DEBUG lets it through, traceback and all
        cli("get", "A", "--env", "production", env={"ENVTRAIL_DEBUG": "1"})
