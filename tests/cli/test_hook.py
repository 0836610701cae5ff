"""The pre-commit check under the real pre-commit framework and as a plain git hook."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.hook import check_staged

ROOT = Path(__file__).resolve().parents[2]


def hook_env(tmp_path):
    env = dict(os.environ)
    # `envtrail` must be on PATH for the hook, as it is for a user.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")
    return env


def commit(store, env, *files, message="change"):
    git(store, "add", *files)
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=store, env=env,
                          capture_output=True, text=True, check=False)


def edit_by_hand(cli, store):
    """Drop a variable's line: still a valid, fully encrypted file, but the trail is bypassed."""
    for key in ("A", "B"):
        assert cli("set", key, "--env", "production", "--reason", "r", input="v").code == 0
    path = store / "envs/production.yaml"
    path.write_text("".join(ln for ln in path.read_text().splitlines(keepends=True)
                            if not ln.startswith("  A:")))


@pytest.fixture(params=["framework", "plain"])
def hooked(request, store, tmp_path):
    env = hook_env(tmp_path)
    if request.param == "framework":
        (store / ".pre-commit-config.yaml").write_text(
            "repos:\n  - repo: local\n    hooks:\n      - id: envtrail\n        name: envtrail\n"
            "        entry: envtrail hook pre-commit\n        language: system\n"
            "        pass_filenames: true\n        always_run: true\n")
        subprocess.run(["pre-commit", "install"], cwd=store, env=env, check=True,
                       capture_output=True)
        assert commit(store, env, ".pre-commit-config.yaml", message="hooks").returncode == 0
    else:
        from conftest import Cli

        r = Cli(store)("hook", "install")
        assert r.code == 0, r.err
    return env


def test_plaintext_env_file_is_refused(hooked, store):
    (store / ".env").write_text("API_KEY=sk_live_123\n")
    r = commit(store, hooked, ".env", message="leak")
    assert r.returncode != 0
    assert "refused .env: plaintext dotenv file with values (API_KEY)" in r.stdout + r.stderr
    assert "envtrail import" in r.stdout + r.stderr
    assert git(store, "log", "-1", "--format=%s").strip() != "leak"


def test_empty_example_file_passes(hooked, store):
    (store / ".env.example").write_text("API_KEY=\nDATABASE_URL=\n")
    r = commit(store, hooked, ".env.example", message="example")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(store, "log", "-1", "--format=%s").strip() == "example"


def test_hand_edited_environment_is_refused(hooked, store, cli):
    edit_by_hand(cli, store)
    r = commit(store, hooked, "envs/production.yaml")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "refused envs/production.yaml" in out
    assert "envtrail set/unset/import" in out
    (store / "envs/staging.yaml").write_text("envtrail: 1\nvalues:\n  A: plaintext\n")
    r = commit(store, hooked, "envs/staging.yaml")
    assert "not a valid, fully encrypted environment" in r.stdout + r.stderr


def test_commit_all_is_checked_through_gits_temporary_index(hooked, store, cli):
    edit_by_hand(cli, store)
    head = git(store, "rev-parse", "HEAD")
    r = subprocess.run(["git", "commit", "-q", "-a", "-m", "sneaky"], cwd=store, env=hooked,
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert "refused envs/production.yaml" in r.stdout + r.stderr
    assert git(store, "rev-parse", "HEAD") == head


def test_envtrail_writes_are_unaffected(hooked, store, cli):
    before = git(store, "rev-list", "--count", "HEAD")
    assert cli("set", "A", "--env", "production", "--reason", "r", input="v").code == 0
    assert int(git(store, "rev-list", "--count", "HEAD")) == int(before) + 1
    (store / "README").write_text("docs\n")
    assert commit(store, hooked, "README", message="docs").returncode == 0


def test_manifest_is_valid_for_pre_commit(tmp_path):
    r = subprocess.run(["pre-commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                       env=hook_env(tmp_path), capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_refuses_a_foreign_hook(store):
    from conftest import Cli

    hook = store / ".git/hooks/pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    r = Cli(store)("hook", "install")
    assert r.code == 2 and "--force" in r.err
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert Cli(store)("hook", "install", "--force").code == 0
    assert "envtrail pre-commit hook" in hook.read_text()


def test_hook_reads_the_index_and_walks_no_history(store, cli):
    (store / ".env").write_text("A=1\n")
    git(store, "add", ".env")
    (store / ".env").write_text("A=\n")  # the work tree looks harmless; the index is not
    g = GitRepo(store)
    refusals = check_staged(g)
    assert [r.path for r in refusals] == [".env"]
    assert g.walked == 0
