"""identity and init through the CLI, judged by ssh-keygen and git."""

import os
import stat
import subprocess

from conftest import Cli, git, one_commit_repo


def test_identity_new_writes_0600_key_ssh_keygen_reads(tmp_path):
    cli = Cli(tmp_path)
    r = cli("identity", "new", "--principal", "alice@example.com")
    assert r.code == 0, r.err
    path = os.path.join(os.environ["XDG_CONFIG_HOME"], "envtrail", "identity")
    assert r.err.strip() == f"wrote {path}"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pub = subprocess.run(["ssh-keygen", "-y", "-f", path], capture_output=True, text=True,
                         check=True).stdout.split()
    assert r.out.split() == [*pub[:2], "alice@example.com"]
    again = cli("identity", "new", "--principal", "alice@example.com")
    assert again.code == 2 and "never overwrites" in again.err
    shown = cli("identity", "show")
    assert shown.out == r.out


def test_identity_lookup_order(tmp_path, make_identity, monkeypatch):
    a, b = make_identity("a@example.com"), make_identity("b@example.com")
    cli = Cli(tmp_path)
    def principal(*args, **env):
        return cli(*args, "identity", "show", env=env).out.split()[2]

    key_text = a.path.read_text()
    assert principal(ENVTRAIL_IDENTITY_KEY=key_text) == "a@example.com"
    assert principal(ENVTRAIL_IDENTITY=str(b.path), ENVTRAIL_IDENTITY_KEY=key_text) == "b@example.com"
    assert principal("--identity", str(a.path), ENVTRAIL_IDENTITY=str(b.path)) == "a@example.com"


def test_ssh_dir_key_works_and_loose_permissions_refused(tmp_path, monkeypatch):
    home = tmp_path / "h"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@example.com",
                    "-f", str(key)], check=True)
    cli = Cli(tmp_path)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    assert cli("identity", "show", env=env).out.split()[2] == "me@example.com"
    key.chmod(0o644)
    r = cli("identity", "show", env=env)
    assert r.code == 4 and "chmod 600" in r.err


def test_init_creates_store_and_every_commit_verifies(cli, store, alice):
    for path in (".envtrail/config.yaml", ".envtrail/allowed_signers", ".envtrail/policy.yaml",
                 "envs/production.yaml", "envs/staging.yaml", ".gitattributes"):
        assert (store / path).is_file(), path
    assert "envs/*.yaml merge=envtrail" in (store / ".gitattributes").read_text()
    assert git(store, "config", "--local", "gpg.format").strip() == "ssh"
    signers = (store / ".envtrail/allowed_signers").read_text()
    assert f"alice@example.com namespaces=\"git\" {alice.identity.public.openssh} envtrail:admin" in signers
    for i in range(3):
        cli("set", f"K{i}", "--env", "production", "--reason", f"r{i}", input=str(i))
    cli("unset", "K0", "--env", "production", "--reason", "gone")
    cli("env", "add", "qa", "--reason", "qa")
    commits = git(store, "rev-list", "HEAD").split()
    assert len(commits) == 6
    for c in commits:
        r = subprocess.run(["git", "verify-commit", c], cwd=store, capture_output=True, text=True,
                           check=False)
        assert r.returncode == 0, r.stderr
        assert 'Good "git" signature for alice@example.com' in r.stderr
        trailers = git(store, "log", "-1", "--format=%(trailers:only,unfold)", c)
        assert "Envtrail-Actor: alice@example.com" in trailers
    assert git(store, "log", "-1", "--format=%G?").strip() == "G"
    assert git(store, "status", "--porcelain") == ""


def test_init_in_fresh_clone_only_configures(store, tmp_path, alice):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    before = git(clone, "rev-parse", "HEAD")
    r = Cli(clone, alice)("init")
    assert r.code == 0, r.err
    assert "already an envtrail store" in r.out
    assert git(clone, "rev-parse", "HEAD") == before
    assert git(clone, "config", "--local", "gpg.ssh.allowedSignersFile").strip() == str(
        clone / ".git/envtrail/allowed_signers")
    assert "pinned this store's genesis" in r.out
    git(clone, "verify-commit", "HEAD")
    git(clone, "verify-commit", "HEAD")
    r2 = Cli(clone, alice)("init")
    assert r2.code == 0 and "set git config" not in r2.out  # idempotent


def test_init_in_existing_app_repo_puts_the_store_on_its_own_branch(tmp_path, alice):
    app = _app_with_history(tmp_path)
    code_head = git(app, "rev-parse", "HEAD")
    r = Cli(app, alice)("init", "--env", "production")
    assert r.code == 0, r.err
    assert "refs/heads/envtrail" in r.out
    # The code branch and the work tree are untouched; the store is an orphan line.
    assert git(app, "rev-parse", "HEAD") == code_head
    assert git(app, "status", "--porcelain") == ""
    assert not (app / "envs").exists() and not (app / ".envtrail").exists()
    assert git(app, "rev-list", "--max-parents=0", "envtrail").strip() == \
        git(app, "rev-parse", "envtrail").strip()
    assert git(app, "merge-base", "HEAD", "envtrail", check=False) == ""
    genesis = git(app, "rev-parse", "envtrail").strip()
    assert f"genesis {genesis}" in r.out
    git(app, "verify-commit", "envtrail")
    cli = Cli(app, alice)
    assert cli("set", "TOKEN", "--env", "production", "--reason", "r", input="s3cret").code == 0
    assert cli("get", "TOKEN", "--env", "production").out == "s3cret"
    assert cli("verify").code == 0
    assert git(app, "rev-parse", "HEAD") == code_head
    assert git(app, "rev-list", "--count", "envtrail").strip() == "2"
    git(app, "verify-commit", "envtrail")



def test_a_store_branch_in_global_git_config_is_no_ones_answer(tmp_path, alice):
    """review15 S3: `init` honoured an `envtrail.branch` from ~/.gitconfig (and so wrote
    none to the clone, finding it already "set"), while every other command reads the
    clone's own config only: in an application repository the store then vanished after
    `init`. Only the clone's own config names the store branch."""
    git(tmp_path, "config", "--global", "envtrail.branch", "refs/heads/envtrail")
    app = _app_with_history(tmp_path)
    cli = Cli(app, alice)
    assert cli("init", "--env", "production").code == 0
    assert git(app, "config", "--local", "envtrail.branch").strip() == "refs/heads/envtrail"
    assert cli("set", "TOKEN", "--env", "production", "--reason", "r", input="s3cret").code == 0
    assert cli("get", "TOKEN", "--env", "production").out == "s3cret"
    # A dedicated store repository keeps its checked-out branch, whatever ~/.gitconfig says.
    git(tmp_path, "config", "--global", "envtrail.branch", "refs/heads/elsewhere")
    own = tmp_path / "own"
    own.mkdir()
    git(own, "init", "-q", "-b", "main")
    mine = Cli(own, alice)
    assert mine("init", "--env", "production").code == 0
    assert git(own, "config", "--local", "envtrail.branch").strip() == "refs/heads/main"
    assert mine("init").code == 0  # again: only configures, on the branch that holds it
    assert git(own, "config", "--local", "envtrail.branch").strip() == "refs/heads/main"
    # Two store lines, and the clone's own config names neither: ~/.gitconfig does not
    # choose (it was written for another repository), envtrail will not guess.
    git(own, "branch", "envtrail", "main")
    git(own, "config", "--local", "--unset", "envtrail.branch")
    git(tmp_path, "config", "--global", "envtrail.branch", "refs/heads/envtrail")
    r = mine("init")
    assert r.code == 2 and "will not guess" in r.err, (r.code, r.err)
    assert git(own, "config", "--local", "envtrail.branch", check=False).strip() == ""
    assert mine("status").code == 0

def test_identity_without_principal_cannot_init(tmp_path):
    from envtrail.crypto.keys import Identity

    key = tmp_path / "k"
    key.write_text(Identity.generate("").to_openssh())
    key.chmod(0o600)
    (tmp_path / "s").mkdir()
    r = Cli(tmp_path / "s")("--identity", str(key), "init")
    assert r.code == 2 and "principal" in r.err


def test_init_without_identity_creates_nothing(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    r = Cli(folder)("init", "--env", "production")
    assert r.code == 4
    assert "identity new" in r.err
    assert list(folder.iterdir()) == []


def _app_remote_with_a_planted_store(tmp_path, alice, bob, make_identity, branch: str):
    """An application repository whose store (on ``envtrail``) is on a bare remote, and
    eve's own store, with bob as a member, pushed there as ``branch``."""
    from conftest import make_app_store

    app = make_app_store(tmp_path, alice)
    owner = Cli(app, alice)
    assert owner("access", "grant", bob.principal, bob.publine, "--env", "production",
                 "--reason", "join").code == 0
    assert owner("set", "DB", "--env", "production", "--reason", "r", input="real-db").code == 0
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(app, "push", "-q", str(bare), "main", "envtrail")
    eve = make_identity("eve@example.com")
    evil = tmp_path / "eve"
    evil.mkdir()
    theirs = Cli(evil, eve)
    assert theirs("init", "--create", "--env", "production").code == 0
    assert theirs("access", "grant", bob.principal, bob.publine, "--env", "production",
                  "--reason", "join").code == 0
    assert theirs("set", "DB", "--env", "production", "--reason", "r", input="EVE-DB").code == 0
    git(evil, "push", "-q", str(bare), f"HEAD:refs/heads/{branch}")
    return app, bare, git(app, "rev-list", "--max-parents=0", "envtrail").strip()


def test_a_fresh_clone_adopts_only_the_default_remotes_envtrail_branch(tmp_path, alice, bob,
                                                                        make_identity):
    """eve, who may create branches but not touch ``envtrail``, pushes her own store as
    ``a/envtrail``; a fresh clone took the first ref ending in /envtrail, pinned her
    genesis and served her values (found by the third attacker review)."""
    _, bare, genesis = _app_remote_with_a_planted_store(tmp_path, alice, bob, make_identity,
                                                        "a/envtrail")
    clone = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    assert "origin/a/envtrail" in git(clone, "branch", "-r")
    me = Cli(clone, bob)
    r = me("init")
    assert r.code == 0, r.err
    assert f"genesis {genesis}" in r.out
    assert git(clone, "rev-list", "--max-parents=0", "envtrail").strip() == genesis
    assert me("get", "DB", "--env", "production").out == "real-db"
    assert me("set", "NEW", "--env", "production", "--reason", "r", input="n").code == 0
    r = me("sync")
    assert r.code == 0, r.err
    assert git(bare, "rev-parse", "envtrail").strip() == git(clone, "rev-parse", "envtrail").strip()


def test_two_remotes_offering_a_store_are_refused_until_the_clone_names_one(tmp_path, alice,
                                                                            bob, make_identity):
    from conftest import assert_one_line_error

    _, bare, genesis = _app_remote_with_a_planted_store(tmp_path, alice, bob, make_identity,
                                                          "eve")
    eves = tmp_path / "eve.git"  # a second remote whose envtrail is eve's store
    git(tmp_path, "clone", "-q", "--bare", str(bare), str(eves))
    git(eves, "update-ref", "refs/heads/envtrail", git(eves, "rev-parse", "eve").strip())
    clone = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    git(clone, "remote", "add", "a", str(eves))
    git(clone, "fetch", "-q", "a")
    me = Cli(clone, bob)
    r = me("init")
    assert_one_line_error(r, 2)
    assert "a/envtrail and origin/envtrail hold a store" in r.err
    assert "git config envtrail.branch" in r.err
    assert git(clone, "branch", "--list", "envtrail") == ""
    assert not (clone / ".git/envtrail").exists()  # nothing pinned
    git(clone, "branch", "-q", "envtrail", "origin/envtrail")
    r = me("init")
    assert r.code == 0, r.err
    assert f"genesis {genesis}" in r.out
    assert me("get", "DB", "--env", "production").out == "real-db"


def test_a_store_planted_on_the_code_branch_is_refused_not_adopted(tmp_path, alice, bob,
                                                                  make_identity):
    """Someone who may push only to the code branch adds .envtrail/config.yaml there: a fresh
    clone preferred the checked-out branch and every read failed; with both on offer,
    envtrail now asks which store is meant (fourth attacker review)."""
    from conftest import assert_one_line_error

    _, bare, genesis = _app_remote_with_a_planted_store(tmp_path, alice, bob, make_identity,
                                                          "eve")
    planted = tmp_path / "planter"
    git(tmp_path, "clone", "-q", str(bare), str(planted))
    (planted / ".envtrail").mkdir()
    (planted / ".envtrail/config.yaml").write_text("envtrail: 1\n")
    git(planted, "add", ".envtrail")
    git(planted, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--no-verify",
        "--no-gpg-sign", "-m", "config")
    git(planted, "push", "-q", "origin", "main")
    clone = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    me = Cli(clone, bob)
    r = me("init")
    assert_one_line_error(r, 2)
    assert "envtrail will not guess" in r.err
    git(clone, "config", "envtrail.branch", "refs/heads/envtrail")
    git(clone, "branch", "-q", "envtrail", "origin/envtrail")
    assert me("init").code == 0
    assert git(clone, "rev-list", "--max-parents=0", "envtrail").strip() == genesis
    assert me("get", "DB", "--env", "production").out == "real-db"


def _app_with_history(tmp_path):
    """An application repository with one commit of code, and no store."""
    return one_commit_repo(tmp_path / "app", "main.py", "print(1)\n", "app")
