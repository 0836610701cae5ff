"""The one store reader (``StoreView``): what it memoises must never answer for another
question. A blob is judged per environment it stands for, a parse failure is served
again (and only for its blob), a settings file's failure names its path once, and the
memo stays bounded however long the walk."""

from __future__ import annotations

import pytest

from conftest import git
from envtrail.audit.view import Snapshot, StoreView, value_diff
from envtrail.errors import IntegrityError, NotFoundError, UsageError
from envtrail.gitstore.repo import GitRepo
from hostile import head, setv


def _commit_file(store, path: str, text: str) -> str:
    """What anyone with push rights can commit: ``path`` holding ``text``."""
    (store / path).write_text(text)
    git(store, "add", path)
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "edit")
    return head(store)


@pytest.mark.parametrize("first", ["production", "staging"])
def test_one_blob_is_judged_for_each_environment_it_stands_for(cli, store, first):
    view = StoreView(GitRepo(store))
    blob = view.env_blobs(head(store))["production"]
    # Whichever is asked first, production's own file stays good and the same bytes
    # standing for staging stay refused, each time either is asked.
    for _ in range(2):
        for name in (first, "staging" if first == "production" else "production"):
            if name == "production":
                assert view.env_file(blob, "production").environment == "production"
            else:
                with pytest.raises(IntegrityError, match=r"envs/staging\.yaml says it is "
                                                         r"environment 'production'"):
                    view.env_file(blob, "staging")


def test_a_settings_file_that_fails_fails_again_and_names_its_path_once(cli, store):
    view = StoreView(GitRepo(store))
    good = head(store)
    assert view.policy(good).max_approvals() == 0
    broken = {
        "policy": _commit_file(store, ".envtrail/policy.yaml", "format: 1\nenvironments: [\n"),
        "signers": _commit_file(store, ".envtrail/allowed_signers", "not a signer line\n"),
    }
    for kind, path in (("policy", ".envtrail/policy.yaml"),
                       ("signers", ".envtrail/allowed_signers")):
        read = view.policy if kind == "policy" else view.signers
        messages = []
        for _ in range(2):  # the memoised failure is the same failure
            with pytest.raises(IntegrityError) as failed:
                read(broken[kind])
            messages.append(failed.value.message)
        assert messages[0] == messages[1]
        assert messages[0].startswith(path + ": ") and messages[0].count(path) == 1, messages
    # The failure is its blob's only: the commit before it still reads.
    assert view.signers(good) and view.policy(good).max_approvals() == 0


def test_a_policy_the_yaml_reader_refuses_is_named_by_its_path_once(cli, store):
    # The YAML reader names the file itself: the view must not name it again.
    view = StoreView(GitRepo(store))
    broken = _commit_file(store, ".envtrail/policy.yaml", "format: 1\n  bad: : indent\n")
    with pytest.raises(IntegrityError) as failed:
        view.policy(broken)
    assert failed.value.message.startswith(".envtrail/policy.yaml: ")
    assert failed.value.message.count(".envtrail/policy.yaml") == 1


def test_the_memo_stays_bounded_on_a_long_walk(cli, store):
    view = StoreView(GitRepo(store))
    commits = [head(store)]
    for n in range(StoreView.ENV_CACHE + 6):
        commits.append(git(store, "commit-tree", f"{commits[-1]}^{{tree}}", "-p", commits[-1],
                           "-m", f"n{n}").strip())
    blob = view.env_blobs(commits[0])["production"]
    for n, commit in enumerate(commits):
        assert sorted(view.env_blobs(commit)) == ["production", "staging"]
        with pytest.raises(IntegrityError):
            view.env_file(blob, f"copy{n}")
        assert len(view._env_blobs) <= StoreView.ENV_CACHE
        assert len(view._envs) <= StoreView.ENV_CACHE
    # Whatever was dropped is read again when asked.
    assert view.env_at(commits[0], "production").environment == "production"


def test_a_snapshot_reads_the_bytes_of_its_own_commit(cli, store):
    before = head(store)
    after = _commit_file(store, ".envtrail/policy.yaml", "envtrail: 1\n")
    git_repo = GitRepo(store)
    shown = git(store, "show", f"{before}:.envtrail/allowed_signers").encode()
    assert Snapshot(git_repo, before).read(".envtrail/allowed_signers") == shown
    assert Snapshot(git_repo, after).read(".envtrail/policy.yaml") == b"envtrail: 1\n"
    assert Snapshot(git_repo, before).read("envs/nowhere.yaml") is None


@pytest.mark.parametrize("name", ["Prod", "../production", ""])
def test_a_snapshot_refuses_a_name_no_environment_may_have_before_looking(cli, store, name):
    # Even where a push planted envs/<name>.yaml, a name writers never make is refused
    # as a usage error, not read or reported as missing.
    (store / "envs" / "Prod.yaml").write_bytes((store / "envs/production.yaml").read_bytes())
    commit = _commit_file(store, "envs/Prod.yaml", (store / "envs/Prod.yaml").read_text())
    snap = Snapshot(GitRepo(store), commit)
    assert "Prod" in snap.environments()
    with pytest.raises(UsageError, match="invalid environment name"):
        snap.env(name)


def test_a_snapshot_says_an_environment_it_lacks_is_not_found(cli, store):
    snap = Snapshot(GitRepo(store), head(store))
    assert snap.env("staging").environment == "staging"
    with pytest.raises(NotFoundError, match="no environment 'qa'"):
        snap.env("qa")
    with pytest.raises(NotFoundError):
        Snapshot(GitRepo(store), None).env("production")  # nothing written yet


def test_value_diff_marks_each_variable_added_changed_or_removed(cli, store):
    setv(cli, "GONE", "a")
    setv(cli, "KEPT", "b")
    setv(cli, "SAME", "c")
    view, old = StoreView(GitRepo(store)), head(store)
    setv(cli, "KEPT", "b2")
    setv(cli, "NEW", "d")
    assert cli("unset", "GONE", "--env", "production", "--reason", "drop").code == 0
    before, after = view.env_at(old, "production"), view.env_at(head(store), "production")
    assert value_diff(before, after) == {"GONE": "-", "KEPT": "~", "NEW": "+"}
    assert value_diff(None, before) == dict.fromkeys(("GONE", "KEPT", "SAME"), "+")
    assert value_diff(before, None) == dict.fromkeys(("GONE", "KEPT", "SAME"), "-")
