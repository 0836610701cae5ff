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


@pytest.fixture
def plain_hooks(store, tmp_path):
    from conftest import Cli

    r = Cli(store)("hook", "install")
    assert r.code == 0, r.err
    assert "pre-merge-commit" in r.out
    return hook_env(tmp_path)


def test_a_staged_merge_resolution_is_refused(plain_hooks, store, cli):
    assert cli("set", "A", "--env", "production", "--reason", "r", input="a0").code == 0
    git(store, "switch", "-q", "-c", "left")
    assert cli("set", "A", "--env", "production", "--reason", "r", input="left").code == 0
    git(store, "switch", "-q", "main")
    assert cli("set", "B", "--env", "production", "--reason", "r", input="b").code == 0
    head = git(store, "rev-parse", "HEAD")
    merge = subprocess.run(["git", "merge", "left"], cwd=store, env=plain_hooks,
                           capture_output=True, text=True, check=False)
    assert merge.returncode != 0  # the driver refused: a conflict
    # Resolve it by hand with one side's file, as a user might.
    git(store, "checkout", "--theirs", "envs/production.yaml")
    git(store, "add", "envs/production.yaml")
    r = subprocess.run(["git", "commit", "--no-edit"], cwd=store, env=plain_hooks,
                       capture_output=True, text=True, check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "refused (merge commit)" in out and "envtrail sync" in out
    assert "refused envs/production.yaml" in out
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "rev-list", "--merges", "HEAD") == ""


def test_a_clean_merge_on_the_store_branch_is_refused_too(plain_hooks, store):
    git(store, "switch", "-q", "-c", "docs")
    (store / "README").write_text("docs\n")
    assert commit(store, plain_hooks, "README", message="docs").returncode == 0
    git(store, "switch", "-q", "main")
    (store / "NOTES").write_text("notes\n")
    assert commit(store, plain_hooks, "NOTES", message="notes").returncode == 0
    head = git(store, "rev-parse", "HEAD")
    r = subprocess.run(["git", "merge", "--no-edit", "docs"], cwd=store, env=plain_hooks,
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0  # git runs pre-merge-commit for a merge it commits itself
    assert "refused (merge commit)" in r.stdout + r.stderr
    assert git(store, "rev-parse", "HEAD") == head


def test_a_hand_commit_adding_a_store_file_is_refused(plain_hooks, store):
    (store / ".envtrail/extra.yaml").write_text("x: 1\n")
    r = commit(store, plain_hooks, ".envtrail/extra.yaml")
    assert r.returncode != 0
    assert "refused .envtrail/extra.yaml: changed outside envtrail" in r.stdout + r.stderr


def test_code_branches_of_an_application_repo_never_carry_the_store(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    git(app, "init", "-q")
    (app / "main.py").write_text("print('hi')\n")
    git(app, "add", "main.py")
    git(app, "commit", "-q", "-m", "code")
    git(app, "config", "envtrail.branch", "envtrail")  # the store lives on its orphan branch
    (app / "envs").mkdir()
    (app / "envs/production.yaml").write_text("envtrail: 1\n")
    (app / "src.py").write_text("x = 1\n")
    git(app, "add", "envs/production.yaml", "src.py")
    refusals = check_staged(GitRepo(app))
    assert [r.path for r in refusals] == ["envs/production.yaml"]
    assert "the store lives on branch envtrail" in refusals[0].reason
    # A merge of code branches is fine there.
    (app / ".git/MERGE_HEAD").write_text(git(app, "rev-parse", "HEAD"))
    git(app, "rm", "-q", "--cached", "-r", "envs")
    assert check_staged(GitRepo(app)) == []
