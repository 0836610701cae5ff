"""The log read under pressure: terminal layout, local time, colour, pager, filters, --after."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import assert_one_line_error, git, in_terminal

ROOT_DIR = Path(__file__).resolve().parents[2]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z=>]")
FULL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d")


def tty_env(cli, **extra):
    env = {**cli._env(None), "TERM": "xterm-256color", "ENVTRAIL_PAGER": "cat", **extra}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def some_history(cli):
    genesis = git(cli.cwd, "rev-list", "--max-parents=0", "HEAD").strip()
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "812", "ENVTRAIL_TRUST_ROOT": genesis}
    for i, reason in enumerate(["Rotate payment key for release v2.4.0 (INC-4521)",
                                "Initial secrets for the payments service (OPS-100)"]):
        r = cli("set", f"PAYMENT_PROVIDER_KEY_{i}", "--env", "production", "--reason", reason,
                input=f"v{i}", env=ci)
        assert r.code == 0, r.err


def test_80_columns_keep_the_full_local_time_and_a_copyable_id(cli, store):
    some_history(cli)
    ids = git(store, "log", "--format=%h", "--abbrev=10").split()
    code, drawn = in_terminal(store, ["log"], tty_env(cli, TZ="Asia/Kolkata"), columns=80)
    assert code == 0, drawn
    lines = ANSI.sub("", drawn).replace("\r", "").splitlines()
    assert all(len(line) <= 80 for line in lines)
    for short_id in ids:
        line = next(ln for ln in lines if short_id in ln)  # the id is whole on one line
        assert re.search(FULL_TIME, line), line
        assert "+05:30" in line  # local time, with its offset
    assert "github-actions#812" in drawn


def test_200_columns_put_each_commit_on_one_line(cli, store):
    some_history(cli)
    code, drawn = in_terminal(store, ["log", "--utc"], tty_env(cli, TZ="Asia/Kolkata"), columns=200)
    assert code == 0, drawn
    lines = [ln for ln in ANSI.sub("", drawn).replace("\r", "").splitlines() if ln.strip()]
    commits = int(git(store, "rev-list", "--count", "HEAD"))
    assert len(lines) == commits
    assert "Rotate payment key for release v2.4.0 (INC-4521)" in lines[1]
    assert all("+00:00" in line for line in lines)  # --utc


def test_marks_are_coloured_unless_no_color(cli, store):
    some_history(cli)
    env = tty_env(cli)
    env.pop("NO_COLOR", None)
    code, drawn = in_terminal(store, ["log"], env, columns=120)
    assert code == 0
    assert re.search(r"\x1b\[[0-9;]*32m✓", drawn)  # green ✓
    code, plain = in_terminal(store, ["log"], {**env, "NO_COLOR": "1"}, columns=120)
    assert code == 0 and "✓" in plain
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", plain)


def test_pager_only_when_taller_than_the_screen(cli, store, tmp_path):
    some_history(cli)
    paged = tmp_path / "paged.txt"
    pager = f"cat > {paged}"
    code, _ = in_terminal(store, ["log"], tty_env(cli, ENVTRAIL_PAGER=pager), lines=3)
    assert code == 0 and "INC-4521" in paged.read_text()
    paged.unlink()
    code, drawn = in_terminal(store, ["log", "--no-pager"], tty_env(cli, ENVTRAIL_PAGER=pager), lines=3)
    assert code == 0 and not paged.exists() and "INC-4521" in drawn
    code, drawn = in_terminal(store, ["log"], tty_env(cli, ENVTRAIL_PAGER=pager), lines=50)
    assert code == 0 and not paged.exists() and "INC-4521" in drawn
    env = tty_env(cli, PAGER=pager)
    env.pop("ENVTRAIL_PAGER")
    code, _ = in_terminal(store, ["log"], env, lines=3)
    assert code == 0 and paged.exists()  # PAGER when ENVTRAIL_PAGER is unset


def test_piped_log_has_a_where_column(cli):
    some_history(cli)
    first = cli("log", "-n", "1").out.splitlines()[0].split("\t")
    assert first[-1] == "github-actions#812"


def test_misspelt_filters_exit_3_with_the_closest_name(cli):
    some_history(cli)
    for args, expected in (
        (("--env", "prodution"), "no environment 'prodution' (did you mean production?)"),
        (("--key", "PAYMENT_PROVIDER_KEY_00"), "did you mean PAYMENT_PROVIDER_KEY_0?"),
        (("--actor", "alice@exmaple.com"), "did you mean alice@example.com?"),
    ):
        r = cli("log", *args)
        assert_one_line_error(r, 3)
        assert expected in r.err
    assert cli("log", "--env", "staging", "--key", "PAYMENT_PROVIDER_KEY_0").code == 0


def test_environment_filter_keeps_store_wide_commits_and_show_names_the_change(cli, store):
    r = cli("policy", "set", "--reason-pattern", "INC-[0-9]+", "--reason", "tickets everywhere")
    assert r.code == 0, r.err
    actions = [json.loads(line)["action"] for line in
               cli("log", "--env", "production", "--json").out.splitlines()]
    assert actions == ["policy", "init"]
    shown = cli("show", "HEAD")
    assert shown.code == 0
    assert ".envtrail/policy.yaml" in shown.out
    assert re.search(r"^\s+\+.*INC-\[0-9\]\+", shown.out, re.M)
    assert json.loads(cli("show", "HEAD", "--json").out)["store_changes"]


def test_json_context_is_an_object(cli):
    some_history(cli)
    event = json.loads(cli("log", "-n", "1", "--json").out.splitlines()[0])
    assert event["context"]["ci"] == "github-actions" and event["context"]["run"] == "812"
    shown = json.loads(cli("show", "HEAD", "--json").out)
    assert shown["record"]["context"]["run"] == "812"


def test_after_prints_only_newer_records(cli, store):
    some_history(cli)
    mark = git(store, "rev-parse", "HEAD~1").strip()
    events = [json.loads(line) for line in cli("log", "--after", mark, "--json").out.splitlines()]
    assert [e["key"] for e in events] == ["PAYMENT_PROVIDER_KEY_1"]
    assert cli("log", "--after", "HEAD", "--json").out == ""
    assert_one_line_error(cli("log", "--after", "no-such-rev"), 3)


def notify(cli, store, before):
    """Run the example workflow's notify step for real against a webhook on 127.0.0.1;
    return the JSON documents it posted."""
    import http.server
    import threading

    workflow = yaml.safe_load((ROOT_DIR / "examples/notify-production-changes.yml").read_text())
    step = workflow["jobs"]["notify"]["steps"][-1]
    assert "envtrail log --env production --after" in step["run"]
    posted = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**cli._env(None), "BEFORE": before,
               "WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run(["bash", "-ec", step["run"]], cwd=store, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    return posted


def test_example_workflow_posts_each_new_production_change_masked(cli, store):
    before = git(store, "rev-parse", "HEAD").strip()
    canary = "canary-value-7c1e-must-not-be-posted"
    assert cli("set", "PAY", "--env", "production", "--reason", "INC-9 rotate", input=canary).code == 0
    assert cli("set", "FLAG", "--env", "staging", "--reason", "staging only", input="x").code == 0
    posted = notify(cli, store, before)
    assert len(posted) == 1
    text = posted[0]["text"]
    assert text.startswith("production: set +PAY by alice@example.com (verified)")
    assert "INC-9 rotate" in text
    assert canary not in json.dumps(posted)


def test_example_workflow_posts_a_reason_as_plain_text_not_chat_markup(cli, store):
    """A member's reason is free text: in a Slack-style chat, unescaped, `<!channel>` pinged
    everyone and `<url|label>` showed a vault address that led elsewhere, from the
    "verified" feed (found by the seventh attacker review, F7)."""
    before = git(store, "rev-parse", "HEAD").strip()
    reason = "<!channel> reset now: <https://evil.example/x|https://vault.example.com> & co"
    assert cli("set", "PAY", "--env", "production", "--reason", reason, input="v").code == 0
    (text,) = [p["text"] for p in notify(cli, store, before)]
    assert ("&lt;!channel&gt; reset now: &lt;https://evil.example/x|https://vault.example.com"
            "&gt; &amp; co") in text
    assert "<" not in text and ">" not in text


def test_escape_sequences_in_a_forged_reason_never_reach_the_terminal(tmp_path, alice):
    """An unsigned commit's message is anyone's words: log and show print it inert."""
    from conftest import Cli, git, in_terminal

    root = tmp_path / "s"
    root.mkdir()
    c = Cli(root, alice)
    assert c("init", "--create", "--env", "production").code == 0
    # (A reason holding escapes is no record at all; the subject, shown for a commit
    # without one, carries them too.)
    git(root, "commit", "--allow-empty", "-qm", "x \x1b]52;c;cHduZWQ=\x07 \x1b[2J\n\n"
        "Envtrail-Format: 1\nEnvtrail-Action: set\n"
        "Envtrail-Actor: a\nEnvtrail-Reason: \x1b]52;c;cHduZWQ=\x07 \x1b[2J")
    import os

    env = {**os.environ, "ENVTRAIL_IDENTITY": str(alice.path), "NO_COLOR": "1"}
    for args in (["log", "--no-pager"], ["show", "HEAD"]):
        _, text = in_terminal(root, args, env, columns=200)
        assert "\x1b]52" not in text and "\x1b[2J" not in text, args
        assert "\\x1b" in text, args


def test_escape_sequences_in_a_forged_file_name_never_reach_a_colour_terminal(tmp_path, alice):
    """An outsider's commit adds envs/<ESC]0;title BEL ESC[2J ...>.yaml: `log` showed the
    name raw as the commit's environment, setting the title, clearing the screen and
    painting a fake "verified" line (found by the third attacker review). On a colour
    terminal every command that draws history shows it inert, and envtrail's own
    colours still work."""
    import os

    from conftest import Cli, git, in_terminal

    root = tmp_path / "s"
    root.mkdir()
    c = Cli(root, alice)
    assert c("init", "--create", "--env", "production").code == 0
    assert c("set", "K", "--env", "production", "--reason", "r", input="v").code == 0
    hostile = "\x1b]0;PWNED\x07\x1b[2J\x1b[H\x1b[32mverified: ok\x1b[0m"
    envs = git(root, "rev-parse", "HEAD:envs").strip()
    prod = git(root, "rev-parse", "HEAD:envs/production.yaml").strip()
    listing = git(root, "ls-tree", envs) + f"100644 blob {prod}\t{hostile}.yaml\n"
    new_envs = git(root, "mktree", input=listing).strip()
    top = git(root, "ls-tree", "HEAD").replace(envs, new_envs)
    tree = git(root, "mktree", input=top).strip()
    forged = git(root, "commit-tree", tree, "-p", "HEAD", "-m", "eve").strip()
    git(root, "update-ref", "refs/heads/main", forged)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(ENVTRAIL_IDENTITY=str(alice.path), TERM="xterm")
    for args in (["log", "--no-pager"], ["show", "HEAD"], ["verify"], ["status"],
                 ["get", "K", "--env", "production"], ["history", "K", "--env", "production"],
                 ["access", "log"]):
        _, text = in_terminal(root, args, env, columns=200)
        for raw in ("\x1b]0;", "\x1b[2J", "\x1b[H", "\x07"):
            assert raw not in text, (args, text)
    _, text = in_terminal(root, ["log", "--no-pager"], env, columns=200)
    assert "\\x1b]0;PWNED\\x07" in text
    _, text = in_terminal(root, ["show", "HEAD"], env, columns=200)
    assert "\x1b[1;31mFAILED\x1b[0m" in text  # envtrail's own colour survives
    assert "\\x1b[" not in text.split("verify")[-1].split("FAILED")[0]


def test_show_names_an_unattested_commit_by_its_author_name(cli, store):
    # A hand commit speaks for nobody: show says so, and names whoever git says wrote it.
    git(store, "-c", "user.name=Mallory Hand", "-c", "user.email=m@example.net", "commit",
        "--allow-empty", "-qm", "hand edit")
    shown = cli("show", "HEAD")
    assert shown.code == 0, shown.err
    assert re.search(r"^who\s+\(unattested\) Mallory Hand$", shown.out, re.M)
