"""Mistakes cost nothing: a value typed as a name, a missing reason, a pipe closed early."""

import io
import subprocess
import sys

from conftest import Cli, assert_one_line_error, git, in_terminal

CANARY = "sk_live_canary51HxkQ2eZvKYlo2C"


def head(store):
    return git(store, "rev-parse", "HEAD").strip()


def test_set_key_value_is_refused_without_echo(cli, store):
    before = head(store)
    for value in (CANARY, "sk-live/canary+51Hx", "CANARY VALUE"):
        r = cli("set", "STRIPE_KEY", value, "--env", "production", "--reason", "x", input="v")
        assert_one_line_error(r, 2)
        assert value not in r.both and "canary" not in r.both.lower()
        assert "never taken from the command line" in r.err
    assert head(store) == before
    assert CANARY not in git(store, "log", "--all", "--format=%B")
    # Several real names still work.
    r = cli("set", "A", "B", "--env", "production", "--reason", "two", input="A=1\nB=2\n")
    assert r.code == 0, r.err


def test_a_bad_single_name_is_not_echoed(cli):
    r = cli("set", "sk-live-" + CANARY, "--env", "production", "--reason", "x", input="v")
    assert_one_line_error(r, 2)
    assert CANARY not in r.both


def test_policy_is_checked_before_any_prompt(cli, store):
    code, drawn = in_terminal(store, ["set", "NEW_KEY", "--env", "production"],
                              {**cli._env(None)}, seconds=20)
    assert code == 4, drawn
    assert "Value for" not in drawn
    assert "policy refused" in drawn and "--reason" in drawn


def test_a_non_member_is_refused_before_the_prompt_and_told_who_can_grant(cli, store, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    code, drawn = in_terminal(store, ["set", "X", "--env", "staging", "--reason", "r"],
                              {**cli.as_(bob)._env(None)}, seconds=20)
    assert code == 4, drawn
    assert "Value for" not in drawn
    assert "ask an admin (alice@example.com)" in drawn


def test_policy_refusal_names_who_may_write(cli, store, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--writers", "admins",
               "--reason", "lock down").code == 0
    r = cli.as_(bob)("set", "X", "--env", "production", "--reason", "r", input="v")
    assert_one_line_error(r, 4)
    assert "production may be changed by the admins (alice@example.com)" in r.err


def test_log_into_head_exits_quietly(cli, store):
    lines = "".join(f"K{i}=v{i}\n" for i in range(3000))
    (store.parent / "big.env").write_text(lines)
    assert cli("import", str(store.parent / "big.env"), "--env", "staging",
               "--reason", "many").code == 0
    proc = subprocess.Popen([sys.executable, "-m", "envtrail", "log", "--json"], cwd=store,
                            env=cli._env(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert (code, err) == (0, "")


def test_a_process_leaves_with_all_its_output_and_its_exit_code(cli, store):
    # The console script ends without the interpreter's shutdown (cli.main): what it
    # wrote must still all arrive, in a pipe and in a file, with its code. Buffered as
    # it is by default (PYTHONUNBUFFERED off), and short, so it all sits in the buffer.
    (store.parent / "few.env").write_text("A=1\nB=two\n")
    assert cli("import", str(store.parent / "few.env"), "--env", "staging",
               "--reason", "few").code == 0
    env = {k: v for k, v in cli._env(None).items() if k != "PYTHONUNBUFFERED"}

    def envtrail(*args, stdout=subprocess.PIPE):
        return subprocess.run([sys.executable, "-m", "envtrail", *args], cwd=store, env=env,
                              stdout=stdout, stderr=subprocess.PIPE, check=False)

    piped = envtrail("get", "B", "--env", "staging")
    assert (piped.returncode, piped.stdout) == (0, b"two"), piped.stderr  # exact when piped
    with open(store.parent / "out.env", "wb") as fh:
        assert envtrail("export", "--env", "staging", stdout=fh).returncode == 0
    assert (store.parent / "out.env").read_text() == "A='1'\nB='two'\n"
    missing = envtrail("get", "NOPE", "--env", "staging")
    assert missing.returncode == 3, missing.stderr
    assert missing.stderr.decode().startswith("envtrail: error: ")


def test_a_process_started_with_a_stream_closed_keeps_its_exit_code(cli, store):
    # A daemon or a script (`V=$(envtrail get K 2>&-)`) may start envtrail with a standard
    # stream closed: Python then holds None for it, and the way out after the command
    # (cli.main) must not trip over it (it did: a traceback, and exit 1 for a good read).
    (store.parent / "few.env").write_text("A=1\nB=two\n")
    assert cli("import", str(store.parent / "few.env"), "--env", "staging",
               "--reason", "few").code == 0

    def closed(fd, *args):
        # `exec ... N>&-`: the shell starts envtrail with file descriptor N closed.
        return subprocess.run(["sh", "-c", f'exec "$0" "$@" {fd}>&-', sys.executable,
                               "-m", "envtrail", *args], cwd=store, env=cli._env(None),
                              capture_output=True, check=False)

    read = closed(2, "get", "B", "--env", "staging")
    assert (read.returncode, read.stdout) == (0, b"two")
    # Without a stdout, the command does its work and says nothing (attack35 I1: exit 1,
    # "unexpected AttributeError", and `run` never started its command).
    blind = closed(1, "get", "B", "--env", "staging")
    assert (blind.returncode, blind.stderr) == (0, b""), blind.stderr
    ran = closed(1, "run", "--env", "staging", "--", "sh", "-c", "exit 3")
    assert (ran.returncode, ran.stderr) == (3, b""), ran.stderr
    # A write (git runs beneath it) lands, and nothing written to stdout went into a file
    # opened later on that descriptor: the store still verifies.
    wrote = closed(1, "unset", "A", "--env", "staging", "--reason", "r")
    assert (wrote.returncode, wrote.stderr) == (0, b""), wrote.stderr
    assert cli("verify").code == 0
    assert cli("get", "A", "--env", "staging").code == 3


def test_help_shows_flags_and_arguments_plainly(tmp_path):
    for command in (["rollback"], ["get"], ["set"], ["revert"], ["show"]):
        r = Cli(tmp_path)(*command, "--help")
        assert r.code == 0
        text = r.out + r.err
        assert "<bool>" not in text and "<str>" not in text and "<list[str]>" not in text
        assert "{" not in text
    assert "envtrail get [OPTIONS] KEY" in Cli(tmp_path)("get", "--help").out


def test_identity_that_is_a_folder_gets_a_fitting_error(cli, tmp_path):
    folder = tmp_path / "ssh"
    folder.mkdir()
    r = cli("--identity", str(folder), "get", "A", "--env", "production")
    assert_one_line_error(r, 2)
    assert "is a folder" in r.err and "chmod" not in r.err


def test_init_outside_git_asks_for_create(alice, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    r = Cli(folder, alice)("init", "--env", "production")
    assert_one_line_error(r, 3)
    assert "--create" in r.err
    assert list(folder.iterdir()) == []
    r = Cli(folder, alice)("init", "--create", "--env", "production")
    assert r.code == 0, r.err
    assert f"created a Git repository in {folder}" in r.out
    assert (folder / ".git").is_dir()


def complete(cwd, env, words, cword):
    proc = subprocess.run([sys.executable, "-m", "envtrail"], cwd=cwd, capture_output=True,
                          text=True, check=False,
                          env={**env, "_ENVTRAIL_COMPLETE": "complete_bash",
                               "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_completion_offers_environments_variables_and_formats(cli, store):
    assert cli("set", "API_KEY", "--env", "staging", "--reason", "r", input="v").code == 0
    env = cli._env(None)
    assert complete(store, env, "envtrail get --env ", 3) == ["production", "staging"]
    assert complete(store, env, "envtrail log --env st", 3) == ["staging"]
    assert complete(store, env, "envtrail get --env staging ", 4) == ["API_KEY"]
    assert complete(store, env, "envtrail export --env staging --format ", 5)[:3] == [
        "dotenv", "json", "shell"]


def test_a_sha256_repository_is_named_as_what_it_is(tmp_path, alice):
    """attack19 note: libgit2 cannot open a SHA-256 repository, and every command called
    it "not a Git repository"; it says what it is now (exit 2, one line and a hint)."""
    repo = tmp_path / "sha"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(repo))
    r = Cli(repo, alice)("init")
    assert_one_line_error(r, 2)
    assert "SHA-256 repositories are not supported" in r.err


def test_an_interrupted_command_says_so_and_changes_nothing(cli, store, monkeypatch):
    # Ctrl-C while `set` reads its value from a pipe: typer turned the KeyboardInterrupt
    # into a silent exit 130 (attack35 I2); the boundary says what happened.
    from envtrail.cli import boundary, common

    class Interrupted(io.BytesIO):
        def read(self, *args):
            raise KeyboardInterrupt

    before = head(store)
    monkeypatch.chdir(store)
    monkeypatch.setenv("ENVTRAIL_IDENTITY", str(cli.identity.path))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(Interrupted(), encoding="utf-8"))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    common.runtime.cache_clear()  # read again from this environment, as Cli does
    try:
        assert boundary.run(["set", "K", "--env", "production", "--reason", "r"]) == 130
    finally:
        common.runtime.cache_clear()
    assert err.getvalue() == "envtrail: interrupted; nothing was changed\n"
    assert head(store) == before
