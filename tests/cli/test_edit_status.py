"""edit (a real editor process on a private temp file) and status."""

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import Cli, assert_one_line_error, git
from envtrail.ops import edit as edit_module

EDITOR = '''
import os, stat, sys, json
path = sys.argv[-1]
report = os.environ["EDIT_REPORT"]
with open(report, "w") as fh:
    json.dump({"path": path, "file_mode": stat.S_IMODE(os.stat(path).st_mode),
               "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)}, fh)
text = open(path).read()
mode = os.environ.get("EDIT_MODE", "change")
if mode == "fail":
    sys.exit(3)
if mode == "wait":  # the user walks away: the test signals envtrail meanwhile
    import time
    time.sleep(60)
if mode == "change":
    text = text.replace("KEEP='1'", "KEEP='1'").replace("CHANGE='old'", "CHANGE='new value'")
    text = "\\n".join(l for l in text.splitlines() if not l.startswith("DROP=")) + "\\nADD='added'\\n"
open(path, "w").write(text)
'''


def editor_env(tmp_path, mode):
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {"EDITOR": f"{sys.executable} {script}", "EDIT_MODE": mode,
            "EDIT_REPORT": str(tmp_path / "report.json")}


def seed(cli):
    (cli.cwd.parent / "seed.env").write_text("KEEP=1\nCHANGE=old\nDROP=gone\n")
    assert cli("import", str(cli.cwd.parent / "seed.env"), "--env", "production",
               "--reason", "seed").code == 0


def test_edit_writes_only_what_changed_as_one_commit(cli, store, tmp_path):
    seed(cli)
    before = int(git(store, "rev-list", "--count", "HEAD"))
    r = cli("edit", "--env", "production", "--reason", "tidy", env=editor_env(tmp_path, "change"))
    assert r.code == 0, r.err
    assert int(git(store, "rev-list", "--count", "HEAD")) == before + 1
    msg = git(store, "log", "-1", "--format=%B")
    changes = sorted(ln.split()[1:3] for ln in msg.splitlines() if ln.startswith("Envtrail-Change"))
    assert changes == [["+", "ADD"], ["-", "DROP"], ["~", "CHANGE"]]
    values = json.loads(cli("export", "--env", "production", "--format", "json").out)
    assert values == {"KEEP": "1", "CHANGE": "new value", "ADD": "added"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["file_mode"] == 0o600
    assert report["dir_mode"] == 0o700
    assert not Path(report["path"]).parent.exists()


def test_failing_or_idle_editor_changes_nothing(cli, store, tmp_path):
    seed(cli)
    head = git(store, "rev-parse", "HEAD")
    r = cli("edit", "--env", "production", "--reason", "x", env=editor_env(tmp_path, "fail"))
    assert r.code == 1
    assert "exited with status 3" in r.err
    assert not Path(json.loads((tmp_path / "report.json").read_text())["path"]).parent.exists()
    r = cli("edit", "--env", "production", "--reason", "x", env=editor_env(tmp_path, "same"))
    assert r.code == 0 and "nothing changed" in r.out
    assert git(store, "rev-parse", "HEAD") == head


def test_status_reports_and_suggests(cli, store, tmp_path, bob):
    r = cli("status", "--json")
    assert r.code == 0, r.err
    st = json.loads(r.out)
    assert (st["principal"], st["admin"], st["readable"]) == ("alice@example.com", True,
                                                              ["production", "staging"])
    assert st["missing_config"] == []
    assert st["hook_installed"] is False
    assert any("hook install" in s for s in st["next_steps"])
    assert cli("verify").code == 0
    assert json.loads(cli("status", "--json").out)["verified"] == "up to the line head"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    fresh = json.loads(Cli(clone, bob)("status", "--json").out)
    assert fresh["principal"] is None
    assert "gpg.format" in fresh["missing_config"]
    assert any("envtrail init" in s for s in fresh["next_steps"])
    assert any("access grant" in s for s in fresh["next_steps"])
    plain = cli("status").out
    assert "can read     production, staging" in plain


EDIT_CANARY = "CANARY-edit-ram-93c4d1"
WHERE = '''
import os, sys
open(os.environ["EDIT_REPORT"], "w").write(sys.argv[-1] + "\\n" + open(sys.argv[-1]).read())
'''


def edit_where(cli, tmp_path, tmpdir):
    """Where edit put the plaintext with TMPDIR set to ``tmpdir``, and what the file held."""
    assert cli("set", "TOKEN", "--env", "production", "--reason", "add",
               input=EDIT_CANARY).code == 0
    script = tmp_path / "where.py"
    script.write_text(WHERE)
    report = tmp_path / "where.txt"
    r = cli("edit", "--env", "production", "--reason", "x",
            env={"EDITOR": f"{sys.executable} {script}", "EDIT_REPORT": str(report),
                 "TMPDIR": str(tmpdir)})
    assert r.code == 0 and "nothing changed" in r.out, r.err
    path, _, text = report.read_text().partition("\n")
    assert EDIT_CANARY in text  # the editor was handed the plaintext itself
    assert not Path(path).parent.exists()
    assert all(EDIT_CANARY.encode() not in p.read_bytes() for p in tmpdir.rglob("*")
               if p.is_file())
    return Path(path)


@pytest.mark.skipif(not (edit_module.RAM_DIR.is_dir() and os.access(edit_module.RAM_DIR,
                                                                     os.W_OK)),
                    reason="no writable /dev/shm here")
def test_edit_keeps_the_plaintext_in_ram_even_with_tmpdir_set(cli, tmp_path):
    disk = tmp_path / "disk-tmp"
    disk.mkdir()
    path = edit_where(cli, tmp_path, disk)
    assert path.parent.parent == edit_module.RAM_DIR


def test_edit_falls_back_to_tmpdir_without_a_ram_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(edit_module, "RAM_DIR", tmp_path / "no-shm-here")
    disk = tmp_path / "disk-tmp"
    disk.mkdir()
    assert edit_where(cli, tmp_path, disk).parent.parent == disk


# Attack 15, J6: edit opened the editor on the decrypted values and refused only afterwards
# (a missing reason, the policy, approvals), so the edit was lost after plaintext was shown.
def refused_before_the_editor(cli, store, tmp_path, *args):
    """Run a refused edit whose editor would change a value; what it said, after checking
    that the editor never ran and the store did not move."""
    refs = git(store, "for-each-ref", "--format=%(refname) %(objectname)")
    before = cli("export", "--env", "production", "--format", "json").out
    r = cli("edit", "--env", "production", *args, env=editor_env(tmp_path, "change"))
    assert not (tmp_path / "report.json").exists(), "the editor ran"
    assert git(store, "for-each-ref", "--format=%(refname) %(objectname)") == refs
    assert cli("export", "--env", "production", "--format", "json").out == before
    return r


@pytest.mark.parametrize("reason", [None, "  "])
def test_edit_without_a_reason_is_refused_before_the_editor_opens(cli, store, tmp_path, reason):
    seed(cli)
    r = refused_before_the_editor(cli, store, tmp_path,
                                  *(() if reason is None else ("--reason", reason)))
    assert r.code == 2
    assert r.err.splitlines()[0] == "envtrail: error: edit needs a --reason"


def test_edit_the_policy_refuses_is_refused_before_the_editor_opens(cli, store, tmp_path):
    seed(cli)
    assert cli("policy", "set", "--env", "production", "--reason-pattern", "INC-[0-9]+",
               "--reason", "tickets INC-1").code == 0
    r = refused_before_the_editor(cli, store, tmp_path, "--reason", "tidy")
    assert r.code == 4
    assert "policy refused: reason_pattern" in r.err


def test_edit_needing_approvals_without_propose_is_refused_before_the_editor_opens(
        cli, store, tmp_path, bob):
    seed(cli)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "a second approver").code == 0  # ops/reach.py
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    r = refused_before_the_editor(cli, store, tmp_path, "--reason", "rotate INC-2")
    assert r.code == 4
    # The same refusal and hint `set` gives (one function decides both).
    said = cli("set", "CHANGE", "--env", "production", "--reason", "rotate INC-2", input="x")
    assert said.code == 4 and r.err == said.err
    assert "needs 1 approval(s)" in r.err and "--propose" in r.err
    # With --propose the editor opens and the change waits for an approver.
    head = git(store, "rev-parse", "HEAD")
    r = cli("edit", "--env", "production", "--reason", "rotate INC-2", "--propose",
            env=editor_env(tmp_path, "change"))
    assert r.code == 0, r.err
    assert (tmp_path / "report.json").exists()
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "for-each-ref", "refs/envtrail/proposals/").strip()


def test_edit_break_glass_the_policy_bars_is_refused_before_the_editor_opens(cli, store,
                                                                             tmp_path, bob):
    seed(cli)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "a second approver").code == 0  # ops/reach.py
    assert cli("policy", "set", "--env", "production", "--approvals", "1", "--no-break-glass",
               "--reason", "four eyes, no glass").code == 0
    r = refused_before_the_editor(cli, store, tmp_path, "--reason", "INC-3", "--break-glass")
    assert_one_line_error(r, 4)
    assert r.err.splitlines()[0] == ("envtrail: error: break-glass refused: the policy says "
                                     "break_glass: false for production")
    # The same refusal and hint `set` gives, and `set` too says it before reading a value.
    said = cli("set", "CHANGE", "--env", "production", "--reason", "INC-3", "--break-glass")
    assert said.code == 4 and r.err == said.err


def test_break_glass_the_policy_bars_is_refused_where_no_approval_is_needed(cli, store, bob,
                                                                            tmp_path):
    """attack17 A: with no approvals asked, `--break-glass` under `break_glass: false`
    landed a flagged commit nobody could review. The policy's word holds for every write."""
    seed(cli)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--no-break-glass",
               "--reason", "no glass here").code == 0
    before = git(store, "for-each-ref")
    said = cli("set", "CHANGE", "--env", "production", "--reason", "INC-5", "--break-glass",
               input="v")
    assert_one_line_error(said, 4)
    assert "break_glass: false for production" in said.err
    r = refused_before_the_editor(cli, store, tmp_path, "--reason", "INC-5", "--break-glass")
    assert r.err == said.err
    # A write that builds its commit first (no value asked) is refused when it settles.
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "INC-5",
            "--break-glass")
    assert_one_line_error(r, 4)
    assert r.err.splitlines()[0] == said.err.splitlines()[0]
    assert git(store, "for-each-ref") == before
    assert cli("set", "CHANGE", "--env", "production", "--reason", "INC-5", input="v").code == 0


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_an_edit_ended_by_a_signal_leaves_no_plaintext_behind(cli, store, tmp_path, signame):
    """attack19 P7: SIGTERM (a job timeout) or SIGHUP (a closed terminal or ssh session)
    ended envtrail mid-edit and left every decrypted value in /dev/shm until reboot."""
    import signal
    import subprocess
    import time

    seed(cli)
    head = git(store, "rev-parse", "HEAD")
    env = cli._env(editor_env(tmp_path, "wait"))
    proc = subprocess.Popen([sys.executable, "-m", "envtrail", "edit", "--env", "production",
                             "--reason", "tidy"], cwd=store, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    report = tmp_path / "report.json"
    deadline = time.monotonic() + 60
    while not report.exists() or not report.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    path = Path(json.loads(report.read_text())["path"])
    assert "CHANGE='old'" in path.read_text()
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # as Ctrl-C ends it
    assert b"Traceback" not in err and b"CHANGE" not in out + err
    assert not path.exists() and not path.parent.exists()
    assert git(store, "rev-parse", "HEAD") == head
