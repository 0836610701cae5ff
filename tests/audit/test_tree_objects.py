"""Trees and objects anyone can push, read the way git reads them, never a crash.

A submodule (gitlink) names a commit git never fetches, so one may point nowhere; a
tree may list a name twice or out of order (git fsck refuses both, a server without
`receive.fsckObjects` takes them); a partial clone lacks old files. Each is built
from real git objects on an honest line.
"""

from __future__ import annotations

import subprocess

import pytest

import forge
from conftest import Cli, assert_one_line_error, git
from envtrail.audit import record
from envtrail.format import layout
from hostile import (
    head,
    listed,
    message,
    point,
    raw_tree,
    refused,
    setv,
    signed_commit,
    unsigned_commit,
    verify_findings,
)

NOWHERE = "d" * 40  # a commit no repository holds


def _with(store, tree: str, name: str, oid: str, mode: str = "40000") -> str:
    """``tree`` with entry ``name`` pointing at ``oid``."""
    return raw_tree(store, [(mode, n, oid) if n == name else (m, n, o)
                             for m, n, o in listed(store, tree)])


def _signed_on(store, cli, tree: str, plan) -> str:
    """alice's signed commit of ``plan``'s record with ``tree``, on the store head."""
    import pygit2

    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    parent = head(store)
    return create_commit(g, [parent], {}, record.render(plan.record),
                         Author("alice@example.com", "alice@example.com",
                                g.info(parent).committer_time),
                         signer_for(cli.identity.identity), tree=pygit2.Oid(hex=tree))


def _fsck(store) -> str:
    done = subprocess.run(["git", "fsck", "--no-dangling"], cwd=store, capture_output=True,
                          text=True, check=False)
    return done.stdout + done.stderr


def _no_crash(r) -> None:
    assert r.code != 1 or "unexpected" not in r.err, r.err
    assert "Traceback" not in r.err + r.out and "unexpected" not in r.err, r.err


def _signers_to_nowhere(store, mallory) -> tuple[str, str]:
    """An outsider's unsigned commit that makes allowed_signers a gitlink to nowhere, and
    his own signed commit on top of it; (first, second), on no branch."""
    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    settings = git(store, "rev-parse", "HEAD:.envtrail").strip()
    linked = _with(store, root, ".envtrail", _with(store, settings, "allowed_signers",
                                                     NOWHERE, "160000"))
    first = git(store, "commit-tree", linked, "-p", head(store), "-m", "outsider").strip()
    second = signed_commit(store, mallory.identity, "mallory@example.com", [first], {},
                           message("set", "mallory@example.com"), tree_of=first)
    return first, second


def test_a_submodule_to_nowhere_where_allowed_signers_belongs_is_a_finding_repair_undoes(
        cli, store, make_identity):
    """An outsider's unsigned commit turns allowed_signers into a gitlink to a commit that
    exists nowhere, and a commit signed with his own key follows it: the walk reads the
    first commit's signers to judge the second (attack 10, F3: exit 1 everywhere)."""
    setv(cli, "A", "good")
    first, second = _signers_to_nowhere(store, make_identity("mallory@example.com"))
    point(store, second)
    assert "missing" not in _fsck(store)  # git never follows a gitlink: a push takes it

    findings = verify_findings(cli)
    assert (first, 1) in {(f["commit"], f["rule"]) for f in findings}
    assert any(f["commit"] == second and f["rule"] == 1 and "submodule" in f["message"]
               for f in findings), findings
    for who in (cli, cli.as_(None)):
        r = who("verify")
        assert r.code == 1 and first[:10] in r.out, (r.code, r.out, r.err)
        _no_crash(r)
    refused(cli, "A")
    for cmd in (("log",), ("status",), ("repair", "--reason", "x", "--dry-run")):
        r = cli(*cmd)
        _no_crash(r)
        if r.code:
            assert_one_line_error(r, 5)
    r = cli("repair", "--reason", "INC-3 submodule where the signers belong")
    assert r.code == 0, r.err
    assert cli("get", "A", "--env", "production").out == "good"
    r = cli("verify")
    assert r.code == 0 and "acknowledged:" in r.out, r.out + r.err
    for cmd in (("log",), ("status",), ("show", second), ("show", first),
                ("history", "A", "--env", "production"), ("access", "log")):
        r = cli(*cmd)
        assert r.code == 0, (cmd, r.err)
    assert second[:10] in cli("log").out


def test_a_submodule_where_a_settings_file_belongs_reads_as_a_malformed_file(store):
    from envtrail.audit.view import StoreView
    from envtrail.errors import IntegrityError
    from envtrail.gitstore.repo import GitRepo

    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    settings = git(store, "rev-parse", "HEAD:.envtrail").strip()
    tree = _with(store, root, ".envtrail", _with(store, settings, "policy.yaml",
                                                   NOWHERE, "160000"))
    commit = unsigned_commit(store, tree, [head(store)])
    g = GitRepo(store)
    with pytest.raises(IntegrityError, match=r"^\.envtrail/policy\.yaml: a submodule where"):
        g.read(commit, layout.POLICY)
    with pytest.raises(IntegrityError, match=r"^\.envtrail/policy\.yaml: a submodule where"):
        StoreView(g).policy(commit)
    with pytest.raises(IntegrityError, match="missing from this clone"):
        g.blob(NOWHERE)


def _duplicated(store, cli, where: str) -> tuple[str, str]:
    """alice's signed value change whose tree lists the changed file twice, the old
    version first (what git reads) and the new one second; (commit, the new value)."""
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "CANARY-second"})
    parent = head(store)
    new_blob = git(store, "hash-object", "-w", "--stdin",
                   input=plan.changes[layout.env_path("production")].decode()).strip()
    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    envs_listing = listed(store, f"{parent}:envs")
    if where == "envs":
        doubled = []
        for mode, name, oid in envs_listing:
            doubled.append((mode, name, oid))
            if name == "production.yaml":
                doubled.append((mode, name, new_blob))
        tree = _with(store, root, "envs", raw_tree(store, doubled))
    else:  # the top-level tree names envs/ twice, the second with the new file
        new_envs = raw_tree(store, [(m, n, new_blob if n == "production.yaml" else o)
                                     for m, n, o in envs_listing])
        doubled = []
        for mode, name, oid in listed(store, root):
            doubled.append((mode, name, oid))
            if name == "envs":
                doubled.append((mode, name, new_envs))
        tree = raw_tree(store, doubled)
    commit = _signed_on(store, cli, tree, plan)
    point(store, commit)
    return commit, "CANARY-second"


@pytest.mark.parametrize("where", ["envs", "top"])
def test_a_tree_listing_a_name_twice_is_a_finding_repair_undoes(cli, store, where):
    """`git show` reads a name's first entry, a checkout its last: such a tree is a
    finding, so no reader takes either (attack 10, F7: verify passed)."""
    setv(cli, "A", "first")
    commit, second = _duplicated(store, cli, where)
    assert "duplicateEntries" in _fsck(store)
    shown = git(store, "show", f"{commit}:envs/production.yaml")
    assert shown == git(store, "show", f"{commit}~1:envs/production.yaml")
    assert (store / "envs/production.yaml").read_text() != shown  # the checkout's is the last
    findings = verify_findings(cli)
    named = "envs lists production.yaml twice" if where == "envs" else \
        "the top-level tree lists envs twice"
    assert any(f["commit"] == commit and f["rule"] == 3 and named in f["message"]
               for f in findings), findings
    refused(cli, "A", (second,))
    r = cli("repair", "--reason", "INC-7 doubled entry")
    assert r.code == 0, r.err
    assert cli("verify").code == 0
    assert cli("get", "A", "--env", "production").out == "first"
    assert (store / "envs/production.yaml").read_text() == \
        git(store, "show", "HEAD:envs/production.yaml")


def _a_change_of_a(store, cli):
    """alice's honest change of A (set to "1" first): its plan, its parent and the new
    production file as a blob, for a test to build its own tree around."""
    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    blob = git(store, "hash-object", "-w", "--stdin",
               input=plan.changes[layout.env_path("production")].decode()).strip()
    return plan, head(store), blob


def test_a_tree_out_of_gits_order_is_a_finding(cli, store):
    plan, parent, new_blob = _a_change_of_a(store, cli)
    envs = [(m, n, new_blob if n == "production.yaml" else o)
            for m, n, o in listed(store, f"{parent}:envs")]
    assert [n for _, n, _ in envs] == ["production.yaml", "staging.yaml"]
    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    tree = _with(store, root, "envs", raw_tree(store, envs[::-1]))
    commit = _signed_on(store, cli, tree, plan)
    point(store, commit)
    assert "treeNotSorted" in _fsck(store)
    findings = verify_findings(cli)
    assert any(f["commit"] == commit and f["rule"] == 3 and "envs lists its entries out of "
               "git's order" in f["message"] for f in findings), findings
    refused(cli, "A")


def test_a_folder_sorts_as_git_sorts_it(store):
    """git sorts a folder as if its name ended in "/": "a.b" comes before the folder "a",
    though "a" < "a.b". Such a tree is in order, and no finding."""
    from envtrail.gitstore.repo import GitRepo

    blob = git(store, "hash-object", "-w", "--stdin", input="x").strip()
    folder = raw_tree(store, [("100644", "f", blob)])
    tree = raw_tree(store, [("100644", "a.b", blob), ("40000", "a", folder),
                             ("100644", "a0", blob)])
    assert "treeNotSorted" not in _fsck(store)
    g = GitRepo(store)
    assert g._listing(tree) is not None and tree not in g._malformed
    unsorted = raw_tree(store, [("40000", "a", folder), ("100644", "a.b", blob)])
    g._listing(unsorted)
    assert "out of git's order" in g._malformed[unsorted]


def test_a_partial_clone_is_refused_with_a_hint(cli, store, tmp_path):
    """libgit2 never fetches what a partial clone left out (attack 10, F12: exit 1)."""
    setv(cli, "A", "1")
    setv(cli, "A", "2")
    git(store, "config", "uploadpack.allowFilter", "true")
    partial = tmp_path / "partial"
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{store}", str(partial))
    for cmd in (("verify",), ("get", "A", "--env", "production"), ("init",)):
        r = Cli(partial, cli.identity)(*cmd)
        assert_one_line_error(r, 5)
        assert "partial clone" in r.err and "--filter" in r.err, (cmd, r.err)
    full = tmp_path / "full"
    git(tmp_path, "clone", "-q", f"file://{store}", str(full))
    assert Cli(full, cli.identity)("get", "A", "--env", "production").out == "2"


def test_sync_refuses_a_pushed_submodule_to_nowhere_and_changes_nothing(cli, store, tmp_path,
                                                                        make_identity):
    setv(cli, "A", "good")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    member = tmp_path / "member"
    git(tmp_path, "clone", "-q", str(bare), str(member))
    m = Cli(member, cli.identity)
    assert m("init").code == 0
    assert m("get", "A", "--env", "production").out == "good"
    _, second = _signers_to_nowhere(store, make_identity("mallory@example.com"))
    git(store, "push", "-q", "-f", str(bare), f"{second}:refs/heads/main")  # a server takes it
    before = git(member, "rev-parse", "HEAD")
    r = m("sync")
    assert_one_line_error(r, 5)
    assert "does not verify" in r.err
    assert git(member, "rev-parse", "HEAD") == before
    assert m("get", "A", "--env", "production").out == "good"


def test_a_name_in_a_tree_is_written_out_never_printed(cli, store):
    # attack12 F11: a signer's stowaway named "README\n<id> acknowledged: ...\nverified
    # 3 commit(s) up to <id>: ok" put lines of envtrail's own form into verify and show.
    plan, parent, new_blob = _a_change_of_a(store, cli)
    fake = "README\nverified 3 commit(s) up to 0123456789: ok\x1b[2K"
    settings = [*listed(store, f"{parent}:.envtrail"), ("100644", fake, new_blob)]
    envs = [(m, n, new_blob if n == "production.yaml" else o)
            for m, n, o in listed(store, f"{parent}:envs")]
    root = _with(store, git(store, "rev-parse", "HEAD^{tree}").strip(), "envs",
                 raw_tree(store, envs))
    tree = _with(store, root, ".envtrail", raw_tree(store, sorted(settings, key=lambda e: e[1])))
    commit = _signed_on(store, cli, tree, plan)
    point(store, commit)
    for r in (cli("verify"), cli("show", commit)):
        assert "\\nverified 3 commit(s) up to 0123456789: ok\\x1b[2K is not a file" in r.out
        assert not any(line.startswith("verified 3 commit(s) up to 0123456789")
                       for line in r.out.splitlines()), r.out
        assert "\x1b" not in r.out
    refused(cli, "A")


def test_files_sort_as_bytes_with_no_slash_added(store):
    """Only a folder sorts as if its name ended in "/": the files "a" and "a.b" are in
    git's order as they are, though "a/" would sort after "a.b/"."""
    from envtrail.gitstore.repo import GitRepo

    blob = git(store, "hash-object", "-w", "--stdin", input="x").strip()
    tree = raw_tree(store, [("100644", "a", blob), ("100644", "a.b", blob)])
    assert "treeNotSorted" not in _fsck(store)
    g = GitRepo(store)
    assert g._listing(tree) is not None and tree not in g._malformed


def test_a_file_entry_naming_a_tree_is_no_folder_to_read_through(cli, store):
    """A tree may give `.envtrail` a file's mode and a folder's id: git reads no path
    through it (`git show X:.envtrail/allowed_signers` fails), and neither may envtrail,
    or the signers a checkout never shows would judge the next commit."""
    from envtrail.gitstore.repo import GitRepo

    setv(cli, "A", "1")
    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    settings = git(store, "rev-parse", "HEAD:.envtrail").strip()
    tree = _with(store, root, ".envtrail", settings, "100644")
    commit = unsigned_commit(store, tree, [head(store)])
    assert subprocess.run(["git", "cat-file", "-e", f"{commit}:{layout.SIGNERS}"], cwd=store,
                          capture_output=True, check=False).returncode != 0
    g = GitRepo(store)
    assert g.entry_id(commit, ".envtrail") == settings
    for path in layout.ADMIN_FILES:
        assert g.file_id(commit, path) is None and g.read(commit, path) is None
    assert g.differing(head(store), commit, layout.ADMIN_FILES) == list(layout.ADMIN_FILES)
    assert g.shape_problems(commit, layout.STORE_DIR, layout.ADMIN_FILES, layout.ENVS,
                            layout.ATTRIBUTES) == [".envtrail is not a folder"]


def test_shape_problems_lists_the_top_level_tree_itself(cli, store):
    """The top-level tree's own malformation is found by the shape check alone, on a
    reader that has listed nothing before it."""
    from envtrail.gitstore.repo import GitRepo

    setv(cli, "A", "first")
    commit, _ = _duplicated(store, cli, "top")
    assert GitRepo(store).shape_problems(commit, layout.STORE_DIR, layout.ADMIN_FILES,
                                         layout.ENVS, layout.ATTRIBUTES) == \
        ["the top-level tree lists envs twice"]


def test_a_signed_commit_that_removes_envs_whole_is_a_finding_not_a_crash(cli, store):
    """No `envs/` at all (every environment file deleted, so git drops the folder): the
    shape check has no folder to look into, and verify names what the commit did."""
    setv(cli, "A", "1")
    gone = signed_commit(store, cli.identity.identity, "alice@example.com", [head(store)],
                         {layout.env_path("production"): None, layout.env_path("staging"): None},
                         message("set", "alice@example.com"))
    point(store, gone)
    assert git(store, "ls-tree", "--name-only", "HEAD").split() == [".envtrail", ".gitattributes"]
    r = cli("verify")
    assert r.code == 1, (r.code, r.out, r.err)
    _no_crash(r)
    found = [f for f in verify_findings(cli) if f["commit"] == gone]
    assert {f["rule"] for f in found} == {3} and not any("folder" in f["message"] for f in found)
    assert "Envtrail-Environment does not name the environment changed (production, staging)" \
        in [f["message"] for f in found]
    refused(cli, "A")


@pytest.mark.parametrize("how", ["symlink", "folder", "gone"])
def test_gitattributes_must_stay_a_plain_file(cli, store, how):
    """.gitattributes sits outside envs/ and .envtrail/ but belongs to the store: a
    signed change that makes it a symlink or a folder is a finding; one that deletes it
    is a change of it that a `set` may not make, and never a crash."""
    plan, parent, new_blob = _a_change_of_a(store, cli)
    attributes = git(store, "rev-parse", f"{parent}:{layout.ATTRIBUTES}").strip()
    envs = [(m, n, new_blob if n == "production.yaml" else o)
            for m, n, o in listed(store, f"{parent}:envs")]
    root = _with(store, git(store, "rev-parse", "HEAD^{tree}").strip(), "envs",
                 raw_tree(store, envs))
    if how == "gone":
        tree = raw_tree(store, [e for e in listed(store, root) if e[1] != layout.ATTRIBUTES])
    else:
        target = attributes if how == "symlink" else raw_tree(store, [("100644", "x", attributes)])
        tree = _with(store, root, layout.ATTRIBUTES, target, "120000" if how == "symlink" else "40000")
    commit = _signed_on(store, cli, tree, plan)
    point(store, commit)
    r = cli("verify")
    assert r.code == 1, (r.code, r.out, r.err)
    _no_crash(r)
    found = [(f["rule"], f["message"]) for f in verify_findings(cli) if f["commit"] == commit]
    changed = (3, "Envtrail-Action set, but it changes .gitattributes")
    assert found == ([changed] if how == "gone" else [changed, (3, ".gitattributes is not a plain file")])
    refused(cli, "A")
