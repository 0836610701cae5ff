"""Hostile trees judged side by side in one batch are judged as each one alone.

judge_all takes a few commits through each step in turn, and the store reader's
caches (parsed files by blob and name, listings by tree, paths by commit) serve the
whole batch. A commit whose tree holds a byte copy of another environment's file,
two files swapped, a name listed twice, or a folder or submodule where a file
belongs must get the same judgement, and its own finding, whichever commits share
its batch and whatever they read first (attack36).
"""

from __future__ import annotations

import pygit2
import pytest

import forge
from conftest import git
from envtrail.audit import line, parallel, record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record
from envtrail.audit.verify import Verifier
from envtrail.audit.view import StoreView
from envtrail.gitstore.commit import Author, create_commit, move_branch
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import signer_for
from hostile import head, listed, raw_tree, setv


def _signed_tree(store, ident, tree: str, env: str = "production") -> str:
    """alice's signed `set` with ``tree``, on the store head, the branch moved to it."""
    g = GitRepo(store)
    parent = head(store)
    message = record.render(Record("set", "alice@example.com", "forged", (env,)))
    commit = create_commit(g, [parent], {}, message,
                           Author("alice@example.com", "alice@example.com",
                                  g.info(parent).committer_time),
                           signer_for(ident), tree=pygit2.Oid(hex=tree))
    move_branch(g, g.branch(), parent, commit, "test")
    return commit


def _hostile(store, ident, kind: str) -> str:
    """One hostile commit on the head, then a signed one back to the head's own tree (so
    that the next honest change reads a sound state); the hostile commit's id."""
    root = git(store, "rev-parse", "HEAD^{tree}").strip()
    envs = {name: (mode, oid) for mode, name, oid in listed(store, "HEAD:envs")}
    prod, stag = envs["production.yaml"][1], envs["staging.yaml"][1]
    listing = {
        "copy": [("100644", "production.yaml", prod), ("100644", "staging.yaml", prod)],
        "swap": [("100644", "production.yaml", stag), ("100644", "staging.yaml", prod)],
        "twice": [("100644", "production.yaml", stag), ("100644", "production.yaml", prod),
                  ("100644", "staging.yaml", stag)],
        "folder": [("40000", "production.yaml", raw_tree(store, [("100644", "x", prod)])),
                   ("100644", "staging.yaml", stag)],
        "submodule": [("160000", "production.yaml", head(store)),
                      ("100644", "staging.yaml", stag)],
    }[kind]
    top = [(m, n, raw_tree(store, listing) if n == "envs" else o)
           for m, n, o in listed(store, root)]
    commit = _signed_tree(store, ident, raw_tree(store, top))
    _signed_tree(store, ident, root)
    return commit


EXPECTED = {
    "copy": "envs/staging.yaml says it is environment 'production'",
    "swap": "envs/production.yaml says it is environment 'staging'",
    "twice": "envs lists production.yaml twice",
    "folder": "envs/production.yaml is not a file the store may hold",
    "submodule": "envs/production.yaml is not a file the store may hold",
}


@pytest.mark.parametrize("batch", [3, 4, 16])
def test_hostile_trees_in_one_batch_are_judged_as_each_alone(cli, store, monkeypatch, batch):
    ident = cli.identity.identity
    setv(cli, "DB", "production-only-value")
    setv(cli, "DB", "staging-value", env="staging")
    hostile = {}
    for i, kind in enumerate(EXPECTED):
        # Honest changes between them, so that the same blobs are read as their own
        # environment's file in the batch before and after each hostile commit.
        forge.commit_plan(store, ident, forge.honest_plan(store, ident, "production",
                                                          {"V": f"v{i}"}))
        hostile[kind] = _hostile(store, ident, kind)
    monkeypatch.setattr(parallel, "_BATCH", batch)
    ids = line.line_ids(StoreView(GitRepo(store)), head(store), None)[0]

    def verifier():
        return Verifier(StoreView(GitRepo(store)), Keyring(ident))

    batched = parallel.judge_all(verifier(), ids)
    alone = [parallel.judge_all(verifier(), [commit])[0] for commit in ids]
    assert [j.info.id for j in batched] == ids and len(ids) > batch  # across a batch boundary
    assert batched == alone
    by_id = {j.info.id: j for j in batched}
    for kind, commit in hostile.items():
        messages = [f.message for f in by_id[commit].findings or ()]
        assert any(EXPECTED[kind] in m for m in messages), (kind, messages)
