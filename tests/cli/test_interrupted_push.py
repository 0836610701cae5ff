"""An interrupt after a push reached the remote never says that nothing was changed.

Ctrl-C reaches every process of the terminal's group: `git push` waiting on the remote's
post-receive hook (the refs already moved there) dies, and envtrail with it. Saying
"nothing was changed" then tells the user a change they regret (a value set in the
wrong environment) did not leave the clone, when every member can now fetch it
(attack36 I1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import git


def test_an_interrupt_after_the_push_landed_says_changes_may_have_been_made(cli, store,
                                                                           tmp_path):
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(store, "remote", "add", "origin", str(bare))
    assert cli("sync").code == 0
    landed = tmp_path / "landed"
    hook = bare / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ntouch '{landed}'\nsleep 30\n")
    hook.chmod(0o755)
    r = cli("set", "K", "--env", "production", "--reason", "wrong env", input="v")
    assert r.code == 0, r.err
    mine = git(store, "rev-parse", "main").strip()
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(cli.identity.path)}
    proc = subprocess.Popen([sys.executable, "-m", "envtrail", "sync"], cwd=store, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not landed.exists():  # the remote took the push; git waits on its hook
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert git(bare, "rev-parse", "main").strip() == mine  # it did land
    text = err.decode()
    assert "nothing was changed" not in text and "Traceback" not in text
    assert text.splitlines()[0] == ("envtrail: interrupted after it began writing; some "
                                    "changes may have been made")
