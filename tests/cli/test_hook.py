"""The pre-commit check under the real pre-commit framework and as a plain git hook."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, one_commit_repo
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


def install_hooks(kind, root, env):
    if kind == "framework":
        (root / ".pre-commit-config.yaml").write_text(
            "repos:\n  - repo: local\n    hooks:\n      - id: envtrail\n        name: envtrail\n"
            "        entry: envtrail hook pre-commit\n        language: system\n"
            "        pass_filenames: true\n        always_run: true\n")
        subprocess.run(["pre-commit", "install"], cwd=root, env=env, check=True,
                       capture_output=True)
        git(root, "add", ".pre-commit-config.yaml")  # staged is enough for the framework
    else:
        from conftest import Cli

        r = Cli(root)("hook", "install")
        assert r.code == 0, r.err
    return env


@pytest.fixture(params=["framework", "plain"])
def hooked(request, store, tmp_path):
    """Hooks in a dedicated store: the checked-out branch is the store line."""
    return install_hooks(request.param, store, hook_env(tmp_path))


@pytest.fixture
def app(tmp_path, alice):
    """An application repository with code history; its store lives on branch envtrail."""
    from conftest import make_app_store

    root = make_app_store(tmp_path, alice)
    assert git(root, "branch", "--show-current").strip() == "main"
    return root


@pytest.fixture(params=["framework", "plain"])
def app_hooked(request, app, tmp_path):
    return install_hooks(request.param, app, hook_env(tmp_path))


def test_plaintext_env_file_is_refused(app_hooked, app):
    (app / ".env").write_text("API_KEY=sk_live_123\n")
    r = commit(app, app_hooked, ".env", message="leak")
    assert r.returncode != 0
    assert "refused .env: plaintext dotenv file with values (API_KEY)" in r.stdout + r.stderr
    assert "envtrail import" in r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() != "leak"


def test_empty_example_file_passes(app_hooked, app):
    (app / ".env.example").write_text("API_KEY=\nDATABASE_URL=\n")
    r = commit(app, app_hooked, ".env.example", message="example")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() == "example"


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


def test_envtrail_writes_are_unaffected_and_git_commits_stay_off_the_line(hooked, store, cli):
    before = git(store, "rev-list", "--count", "HEAD")
    assert cli("set", "A", "--env", "production", "--reason", "r", input="v").code == 0
    assert int(git(store, "rev-list", "--count", "HEAD")) == int(before) + 1
    (store / "README").write_text("docs\n")
    r = commit(store, hooked, "README", message="docs")
    assert r.returncode != 0
    assert "refused (commit): the store branch holds only envtrail's" in r.stdout + r.stderr
    assert cli("get", "A", "--env", "production").code == 0


def test_code_commits_in_an_application_repo_pass(app_hooked, app, alice):
    from conftest import Cli

    (app / "README").write_text("docs\n")
    assert commit(app, app_hooked, "README", message="docs").returncode == 0
    assert Cli(app, alice)("set", "A", "--env", "production", "--reason", "r",
                           input="v").code == 0
    assert git(app, "log", "-1", "--format=%s", "main").strip() == "docs"


def test_manifest_is_valid_for_pre_commit(tmp_path):
    r = subprocess.run(["pre-commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                       env=hook_env(tmp_path), capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_foreign_commit_hook_is_left_alone_and_the_others_are_written(store):
    """review15 B6: each hook on its own. Another tool's pre-commit stays, with a note
    saying what to add to it; pre-merge-commit and pre-push are written (exit 0), and
    --force replaces the commit hook (never another tool's pre-push)."""
    from conftest import Cli

    hook = store / ".git/hooks/pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    r = Cli(store)("hook", "install")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [f"installed {store}/.git/hooks/pre-merge-commit",
                                  f"installed {store}/.git/hooks/pre-push"]
    assert f"{hook} is another tool's" in r.err and "-m envtrail hook pre-commit || exit 1" \
        in r.err and "--force" in r.err
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    status = Cli(store)("status").out
    assert "hook         not installed" in status  # honest: git runs no commit check
    assert f"add envtrail's commit check to {hook}" in status
    assert "run `envtrail hook install`" not in status  # it would leave the hook alone again
    given = r.err.split("add the line `", 1)[1].split("`", 1)[0]
    hook.write_text(f"#!/bin/sh\n{given}\nexit 0\n")  # the line the note gives, added
    r = Cli(store)("hook", "install")
    assert r.code == 0 and f"kept {hook}: another tool's hook" in r.out and not r.err
    assert "hook         installed" in Cli(store)("status").out
    hook.chmod(0o755)
    (store / "README").write_text("docs\n")
    r = commit(store, dict(os.environ), "README")  # and git runs the check through it
    assert r.returncode != 0 and "refused (commit)" in r.stderr
    assert Cli(store)("hook", "install", "--force").code == 0
    assert "envtrail pre-commit hook" in hook.read_text()


def test_with_every_hook_another_tools_install_writes_nothing_and_says_so(store):
    from conftest import Cli, assert_one_line_error

    folder = store / ".git/hooks"
    folder.mkdir(exist_ok=True)
    for name in ("pre-commit", "pre-merge-commit", "pre-push"):
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
    r = Cli(store)("hook", "install")
    assert r.code == 2 and not r.out
    notes, error = r.err.splitlines()[:-2], r.err.splitlines()[-2:]
    assert len(notes) == 3 and all("is another tool's" in n for n in notes)
    assert_one_line_error(r.__class__(r.code, "", "\n".join(error) + "\n"), 2)
    assert "no hook installed" in error[0]
    assert all((folder / n).read_text() == "#!/bin/sh\nexit 0\n" for n in (
        "pre-commit", "pre-merge-commit", "pre-push"))


def test_the_pre_commit_frameworks_hook_stays_and_the_push_check_is_installed(
        tmp_path, store, cli, bob):
    """review15 B6: the pre-commit framework owns pre-commit, as docs/git-workflow.md
    suggests; install refused everything, so the push check could not be had without
    --force destroying the framework's hook. Now it is written beside it, git runs it,
    and status counts the commit check once the framework's config lists envtrail."""
    from test_pre_push import push
    from test_sync import make_world

    a, _, bare = make_world(tmp_path, store, cli, bob)
    env = hook_env(tmp_path)
    (a.cwd / ".pre-commit-config.yaml").write_text("repos: []\n")
    subprocess.run(["pre-commit", "install"], cwd=a.cwd, env=env, check=True,
                   capture_output=True)
    framework = (a.cwd / ".git/hooks/pre-commit").read_text()
    r = a("hook", "install")
    assert r.code == 0, r.err
    assert "installed" in r.out and r.out.count("installed") == 2
    assert "is the pre-commit framework's: list envtrail in its config" in r.err
    assert (a.cwd / ".git/hooks/pre-commit").read_text() == framework
    status = a("status").out
    assert "hook         not installed" in status and "add envtrail's commit check" in status
    install_hooks("framework", a.cwd, env)  # lists envtrail in the framework's config
    status = a("status").out
    assert "hook         installed" in status and "hook install" not in status
    remote = git(bare, "rev-parse", "main")
    git(a.cwd, "commit", "-q", "--allow-empty", "--no-verify", "-m", "by hand")
    r = push(a)  # git runs the push check envtrail wrote
    assert r.returncode != 0 and "envtrail: refused (push to refs/heads/main)" in r.stderr
    assert git(bare, "rev-parse", "main") == remote


def test_hook_reads_the_index_and_walks_no_history(store, cli):
    (store / ".env").write_text("A=1\n")
    git(store, "add", ".env")
    (store / ".env").write_text("A=\n")  # the work tree looks harmless; the index is not
    g = GitRepo(store)
    refusals = check_staged(g)
    assert [r.path for r in refusals] == ["(commit)", ".env"]
    assert g.walked == 0


@pytest.fixture
def plain_hooks(store, tmp_path):
    from conftest import Cli

    r = Cli(store)("hook", "install")
    assert r.code == 0, r.err
    assert "pre-merge-commit" in r.out
    return hook_env(tmp_path)


def diverged(store, cli, tmp_path):
    """A clone that set A otherwise than the store did: pulling it conflicts."""
    from conftest import Cli

    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(store), str(other))
    there = Cli(other, cli.identity)
    assert there("init").code == 0
    assert there("set", "A", "--env", "production", "--reason", "r", input="there").code == 0
    assert cli("set", "A", "--env", "production", "--reason", "r", input="here").code == 0
    return other


def test_a_staged_merge_resolution_is_refused(plain_hooks, store, cli, tmp_path):
    other = diverged(store, cli, tmp_path)
    head = git(store, "rev-parse", "HEAD")
    merge = subprocess.run(["git", "pull", "--no-rebase", str(other), "main"], cwd=store,
                           env=plain_hooks, capture_output=True, text=True, check=False)
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
    git(store, "switch", "-q", "-c", "docs")  # not the store branch: a code commit is fine here
    (store / "README").write_text("docs\n")
    assert commit(store, plain_hooks, "README", message="docs").returncode == 0
    git(store, "switch", "-q", "main")
    head = git(store, "rev-parse", "HEAD")
    r = subprocess.run(["git", "merge", "--no-ff", "--no-edit", "docs"], cwd=store,
                       env=plain_hooks, capture_output=True, text=True, check=False)
    assert r.returncode != 0  # git runs pre-merge-commit for a merge it commits itself
    assert "refused (merge commit)" in r.stdout + r.stderr
    assert git(store, "rev-parse", "HEAD") == head


def test_a_hand_commit_adding_a_store_file_is_refused(plain_hooks, store):
    (store / ".envtrail/extra.yaml").write_text("x: 1\n")
    r = commit(store, plain_hooks, ".envtrail/extra.yaml")
    assert r.returncode != 0
    assert "refused .envtrail/extra.yaml: changed outside envtrail" in r.stdout + r.stderr


def store_file_on_a_code_branch_is_refused(app, env, *others):
    """Stage envs/production.yaml (with ``others``) on the application's main branch."""
    (app / "envs").mkdir()
    (app / "envs/production.yaml").write_text("envtrail: 1\n")
    r = commit(app, env, "envs/production.yaml", *others, message="oops")
    assert r.returncode != 0
    assert "refused envs/production.yaml: the store lives on branch envtrail" in r.stdout + r.stderr
    return r


def test_code_branches_of_an_application_repo_never_carry_the_store(app_hooked, app):
    (app / "src.py").write_text("x = 1\n")
    r = store_file_on_a_code_branch_is_refused(app, app_hooked, "src.py")
    assert "(commit)" not in r.stdout + r.stderr  # code commits themselves are fine here
    # A merge of code branches is fine there too.
    git(app, "rm", "-q", "--cached", "-r", "envs")
    (app / ".git/MERGE_HEAD").write_text(git(app, "rev-parse", "HEAD"))
    assert [r.path for r in check_staged(GitRepo(app))] == []


@pytest.mark.parametrize(("name", "data"), [
    (".env", b'API_KEY="sk_live_123\n'),          # an unterminated quote
    (".env.local", b"API_KEY=sk_live_\xff\xfe\n"),  # not UTF-8
])
def test_a_dotenv_file_envtrail_cannot_read_is_refused(app_hooked, app, name, data):
    # What cannot be read cannot be shown to hold no secret: refused, never waved through.
    (app / name).write_bytes(data)
    r = commit(app, app_hooked, name, message="leak")
    assert r.returncode != 0
    assert f"refused {name}: a dotenv file envtrail cannot read" in r.stdout + r.stderr
    assert "sk_live" not in r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() != "leak"


def test_files_pre_commit_excludes_are_skipped_but_the_store_never_is(app, tmp_path):
    env = install_hooks("framework", app, hook_env(tmp_path))
    config = app / ".pre-commit-config.yaml"
    config.write_text(config.read_text() + "        exclude: ^(fixtures|envs)/\n")
    git(app, "add", ".pre-commit-config.yaml")
    (app / "fixtures").mkdir()
    (app / "fixtures/.env").write_text("API_KEY=test-only\n")  # the user chose to keep this
    (app / "README").write_text("docs\n")
    r = commit(app, env, "fixtures/.env", "README", message="fixtures")
    assert r.returncode == 0, r.stdout + r.stderr
    (app / "README").write_text("more docs\n")
    store_file_on_a_code_branch_is_refused(app, env, "README")


def test_files_named_to_the_hook_are_repository_paths_from_anywhere(app, tmp_path):
    from conftest import Cli

    (app / ".env").write_text("API_KEY=sk_live_123\n")
    git(app, "add", ".env")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for named in (".env", str(app / ".env")):
        r = Cli(elsewhere)("hook", "pre-commit", "--repo", str(app), named)
        assert r.code != 0, named
        assert "refused .env: plaintext dotenv file with values (API_KEY)" in r.err


def test_a_store_file_deleted_by_hand_is_refused(hooked, store, cli):
    assert cli("set", "A", "--env", "production", "--reason", "r", input="v").code == 0
    head = git(store, "rev-parse", "HEAD")
    git(store, "rm", "-q", "envs/production.yaml")
    r = subprocess.run(["git", "commit", "-q", "-m", "gone"], cwd=store, env=hooked,
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert "refused envs/production.yaml: changed outside envtrail" in r.stdout + r.stderr
    assert git(store, "rev-parse", "HEAD") == head


# -- where the store line is when envtrail has not configured this clone -------------


def _unconfigured(root):
    """The hook installed in a clone whose .git/config envtrail has never written."""
    from conftest import Cli

    assert Cli(root)("hook", "install").code == 0
    assert "envtrail.branch" not in git(root, "config", "--local", "--list")
    return hook_env(root.parent)


def test_a_fresh_clone_of_a_store_knows_its_line(store, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    env = _unconfigured(clone)
    head = git(clone, "rev-parse", "HEAD")
    (clone / "README").write_text("docs\n")
    r = commit(clone, env, "README")
    assert r.returncode != 0
    assert "refused (commit): the store branch holds only envtrail's" in r.stdout + r.stderr
    assert git(clone, "rev-parse", "HEAD") == head


def test_an_unconfigured_application_repo_finds_its_store_branch(app):
    git(app, "config", "--unset", "envtrail.branch")
    env = _unconfigured(app)
    (app / "README").write_text("docs\n")
    assert commit(app, env, "README", message="docs").returncode == 0  # main is code
    store_file_on_a_code_branch_is_refused(app, env)


def test_a_repository_without_a_store_only_guards_dotenv_files(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    git(root, "init", "-q")
    env = _unconfigured(root)
    (root / ".env").write_text("API_KEY=sk_live_123\n")
    (root / "main.py").write_text("x = 1\n")
    first = commit(root, env, ".env", "main.py", message="first")  # no HEAD yet
    assert first.returncode != 0
    assert "refused .env: plaintext dotenv file with values" in first.stdout + first.stderr
    git(root, "rm", "-q", "--cached", ".env")
    assert commit(root, env, "main.py", message="first").returncode == 0
    git(root, "branch", "envtrail")  # someone's branch of that name, with no store on it
    (root / "README").write_text("docs\n")
    assert commit(root, env, "README", message="docs").returncode == 0
    (root / "envs").mkdir()
    (root / "envs/ci.yaml").write_text("x: 1\n")
    r = commit(root, env, ".env", "envs/ci.yaml", message="leak")
    assert r.returncode != 0
    assert "refused .env: plaintext dotenv file with values (API_KEY)" in r.stdout + r.stderr
    assert "the store lives on branch" not in r.stdout + r.stderr  # there is no store here


def test_an_unresolved_conflict_is_refused_when_the_hook_is_run_by_hand(store, cli, tmp_path):
    from conftest import Cli

    other = diverged(store, cli, tmp_path)
    git(store, "pull", "-q", "--no-rebase", str(other), "main", check=False)
    assert "envs/production.yaml" in git(store, "diff", "--name-only", "--diff-filter=U")
    # `pre-commit run` or `envtrail hook pre-commit` mid-merge: git has not refused yet.
    r = Cli(store)("hook", "pre-commit")
    assert r.code != 0
    assert "refused (merge commit)" in r.err
    assert "refused envs/production.yaml: changed outside envtrail" in r.err


def test_a_conflict_with_no_common_ancestor_is_refused_too(store):
    from conftest import Cli

    # Two branches each add the same store file by hand (no hooks installed): an add/add
    # conflict, whose index entries have no ancestor stage.
    git(store, "switch", "-q", "-c", "side")
    (store / ".envtrail/extra.yaml").write_text("side: 1\n")
    git(store, "add", ".envtrail/extra.yaml")
    git(store, "commit", "-q", "-m", "side")
    git(store, "switch", "-q", "main")
    (store / ".envtrail/extra.yaml").write_text("main: 1\n")
    git(store, "add", ".envtrail/extra.yaml")
    git(store, "commit", "-q", "-m", "main")
    git(store, "merge", "-q", "side", check=False)
    assert ".envtrail/extra.yaml" in git(store, "diff", "--name-only", "--diff-filter=U")
    r = Cli(store)("hook", "pre-commit")
    assert r.code != 0
    assert "refused .envtrail/extra.yaml: changed outside envtrail" in r.err
    assert "then use `envtrail access ...` or `envtrail policy set`" in r.err  # not `set`


def test_install_writes_where_core_hooks_path_points(store, tmp_path):
    from conftest import Cli

    git(store, "config", "core.hooksPath", "tools/githooks")  # neither folder exists yet
    r = Cli(store)("hook", "install")
    assert r.code == 0, r.err
    assert "envtrail pre-commit hook" in (store / "tools/githooks/pre-commit").read_text()
    head = git(store, "rev-parse", "HEAD")
    (store / "README").write_text("docs\n")
    r = commit(store, hook_env(tmp_path), "README")  # git runs what it finds there
    assert r.returncode != 0 and "refused (commit)" in r.stdout + r.stderr
    assert git(store, "rev-parse", "HEAD") == head


CANARY_OLD, CANARY_INLINE = "sk_live_CANARY_4f1d2a", "ghp_CANARYtoken9c8e7"


def reachable_text(root) -> str:
    """Every blob reachable from any ref, as text (the staged blob `git add` wrote is not)."""
    ids = [ln.split()[0] for ln in git(root, "rev-list", "--all", "--objects").splitlines()]
    batch = ("\n".join(ids) + "\n").encode()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=batch,
                         capture_output=True, check=True).stdout
    return out.decode("utf-8", "replace")


def test_a_dotenv_file_with_secrets_only_in_comments_is_refused(app_hooked, app):
    # Attack 12, F9: python-dotenv drops comments, so this file has no values at all.
    (app / ".env").write_text(f"# STRIPE_KEY={CANARY_OLD}   (old key, rotated in INC-4521)\n"
                              f"GITHUB_TOKEN= # {CANARY_INLINE}\n")
    r = commit(app, app_hooked, ".env", message="leak")
    assert r.returncode != 0
    # (python-dotenv before 1.2.4 reads "KEY= # text" as the value "# text": refused as a
    # file with values then, and as a file that is no example file since.)
    said = r.stdout + r.stderr
    assert "refused .env: a dotenv file that is not an example file" in said or \
        "refused .env: plaintext dotenv file with values (GITHUB_TOKEN)" in said, said
    assert CANARY_OLD not in r.stdout + r.stderr and CANARY_INLINE not in r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() != "leak"
    assert CANARY_OLD not in reachable_text(app) and CANARY_INLINE not in reachable_text(app)


@pytest.mark.parametrize("name", [".env", ".env.local", "prod.env", "config/.env.production"])
def test_a_dotenv_file_that_is_no_example_is_refused_even_empty(app_hooked, app, name):
    (app / name).parent.mkdir(parents=True, exist_ok=True)
    (app / name).write_text("API_KEY=\n")
    r = commit(app, app_hooked, name, message="empty")
    assert r.returncode != 0
    assert f"refused {name}: a dotenv file that is not an example file" in r.stdout + r.stderr


def test_an_example_file_with_a_value_in_a_comment_is_refused(app_hooked, app):
    (app / ".env.example").write_text("# your key from the dashboard\nAPI_KEY=\n"
                                      f"# API_KEY={CANARY_OLD}\n")
    r = commit(app, app_hooked, ".env.example", message="template")
    assert r.returncode != 0
    assert "refused .env.example: an example file with a value in a comment (line 3)" \
        in r.stdout + r.stderr
    assert CANARY_OLD not in r.stdout + r.stderr
    assert CANARY_OLD not in reachable_text(app)


def test_an_example_file_may_explain_itself_in_comments(app_hooked, app):
    # ("API_KEY= # note" is left out: python-dotenv before 1.2.4 reads the note as its value.)
    (app / ".env.sample").write_text("# Copy to .env and fill in.\n# DEBUG=\n"
                                     "# API_KEY: from the dashboard, see README\nAPI_KEY=\n"
                                     "DB_URL=''\n")
    r = commit(app, app_hooked, ".env.sample", message="sample")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(("name", "example"), [
    (".env.example", True), (".env.sample", True), (".env.template", True),
    (".env.local.example", True), ("example.env", True), ("app.sample.env", True),
    ("deploy/.env.EXAMPLE", True), (".env", False), (".env.local", False), ("prod.env", False),
    (".env.examples", False), (".env.example.local", False),
])
def test_which_names_are_example_files(name, example):
    from envtrail.ops.hook import is_example

    assert is_example(name) is example


@pytest.mark.parametrize(("line", "holds"), [
    ("# STRIPE_KEY=sk_live_x  (old)", True), ("#A = b", True), ("# export A=b", True),
    ("# e.g. A=b", True), ("# A=''b", True), ('# A="b"', True), ("# A= B=c", True),
    ("# A=", False), ("# A=  ", False), ("# A=''", False), ('# A="" # empty', False),
    ("# A= # a note", False), ("# only words", False), ("A= # a note", False),
])
def test_what_counts_as_a_value_in_a_comment(line, holds, tmp_path):
    from envtrail.ops.hook import _dotenv_refusal

    r = _dotenv_refusal(".env.example", f"A=\n{line}\n".encode())
    assert (r is not None and "value in a comment" in r.reason) is holds, r


def _library(tmp_path):
    """Another repository with one commit, to add as a submodule."""
    return one_commit_repo(tmp_path / "lib", "x", "1\n", "lib")


def test_a_submodule_bump_is_no_file_to_read(app_hooked, app, tmp_path):
    """A staged submodule (a gitlink) names a commit of another repository: the hook read
    it as a file and stopped every such commit ("unexpected KeyError"). It is no file:
    nothing to check outside the store, and refused inside it like anything but a file."""
    lib = _library(tmp_path)
    git(app, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    r = commit(app, app_hooked, ".gitmodules", "lib", message="add lib")
    assert r.returncode == 0, r.stdout + r.stderr
    git(app / "lib", "commit", "-q", "--allow-empty", "-m", "bump")
    r = commit(app, app_hooked, "lib", message="bump lib")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() == "bump lib"


def test_a_submodule_in_a_branchs_first_commit_is_no_file_to_read(app_hooked, app, tmp_path):
    """review17 B1: before a branch's first commit the hook listed the staged gitlink as a
    file, and stopped the commit (exit 5, "fetch the store branch") in a repository
    with a store on another branch, or none."""
    lib = _library(tmp_path)
    git(app, "checkout", "-q", "--orphan", "fresh")
    git(app, "rm", "-rq", "--cached", ".")
    config = [".pre-commit-config.yaml"] if (app / ".pre-commit-config.yaml").exists() else []
    git(app, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    r = commit(app, app_hooked, ".gitmodules", "lib", *config, message="first, with lib")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(app, "log", "-1", "--format=%s").strip() == "first, with lib"
    assert git(app, "ls-tree", "HEAD", "lib").split()[:2] == ["160000", "commit"]
