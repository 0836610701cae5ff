"""Naming commits: HEAD, branches and other refs, revisions, and how commits relate.

The ref half of :class:`envtrail.gitstore.repo.GitRepo`, kept apart so that
ops/ asks for refs by name and never reaches into pygit2 itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pygit2

from envtrail.errors import ConflictError, NotFoundError
from envtrail.gitstore import marks


class RefOps:
    """Refs, HEAD and revisions of :class:`envtrail.gitstore.repo.GitRepo` (``self.repo``: pygit2)."""

    repo: pygit2.Repository
    root: Path
    has_commit: Callable[[str], bool]
    _git: Callable[..., subprocess.CompletedProcess[str]]  # GitRepo runs git itself

    # -- HEAD and the store branch ----------------------------------------

    def branch(self) -> str:
        """The full name of the branch HEAD points to (it may be unborn)."""
        if self.repo.head_is_detached:
            raise ConflictError(
                "HEAD is detached; envtrail writes to a branch",
                hint="check out a branch first, e.g. `git switch main`",
            )
        return self.repo.references["HEAD"].target  # symbolic target name

    def head(self) -> str | None:
        """The commit id HEAD resolves to, or None in an empty repository."""
        if self.repo.head_is_unborn:
            return None
        return str(self.repo.head.target)

    def head_detached(self) -> bool:
        """Whether HEAD names a commit rather than a branch."""
        return self.repo.head_is_detached

    def head_unborn(self) -> bool:
        """Whether HEAD's branch has no commit yet (an empty repository or orphan branch)."""
        return self.repo.head_is_unborn

    def store_ref(self) -> str:
        """The full name of the store branch: ``envtrail.branch`` in the clone's config,
        else the branch HEAD points to (a dedicated store repository)."""
        from envtrail.gitstore.refs import configured_store_ref

        return configured_store_ref(self.root) or self.branch()

    def store_head(self) -> str | None:
        """The commit at the head of the store line, or None before the first write."""
        return self.ref_target(self.store_ref())

    def worktree_mode(self) -> bool:
        """Whether the store branch is checked out, so its files live in the work tree."""
        if self.repo.head_is_detached:
            return False
        return self.repo.references["HEAD"].target == self.store_ref()

    # -- refs --------------------------------------------------------------

    def ref_target(self, name: str) -> str | None:
        """The commit a reference points to, or None if it does not exist."""
        try:
            return str(self.repo.lookup_reference(name).resolve().target)
        except (KeyError, pygit2.InvalidSpecError):
            return None

    def ref_names(self, prefix: str) -> Iterator[str]:
        """The full names of the refs starting with ``prefix``, in libgit2's order.

        Every ref is listed, even one that resolves to nothing (a dangling symbolic
        ref): what the caller deletes or counts must not be filtered here.
        """
        for name in self.repo.references:
            if name.startswith(prefix):
                yield name

    def refs(self, prefix: str) -> dict[str, str]:
        """Full ref name -> the id it points to, for the refs starting with ``prefix``
        that resolve (the id may name any object: callers that need a commit check)."""
        out = {}
        for name in self.ref_names(prefix):
            target = self.ref_target(name)
            if target is not None:
                out[name] = target
        return out

    def set_ref(self, name: str, target: str, force: bool = False) -> None:
        """Point the ref ``name`` at the object ``target`` (a full id); without ``force``,
        an existing ref of that name is an error (pygit2's ``AlreadyExistsError``)."""
        marks.began()
        self.repo.references.create(name, pygit2.Oid(hex=target), force=force)

    def delete_ref(self, name: str) -> bool:
        """Delete the ref ``name``; False if there was none."""
        marks.began()
        try:
            self.repo.references.delete(name)
        except KeyError:
            return False
        return True

    def remote_names(self) -> list[str]:
        """The names of the remotes configured in this clone."""
        return list(self.repo.remotes.names())

    # -- revisions ---------------------------------------------------------

    def resolve(self, rev: str) -> str:
        """A commit id for anything git's rev-parse understands."""
        try:
            obj = self.repo.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, pygit2.InvalidSpecError):
            raise NotFoundError(f"unknown revision {rev[:80]!r}") from None
        except (ValueError, pygit2.GitError):  # a commit libgit2 cannot parse: git can
            done = self._git("rev-parse", "--verify", "--quiet", "--end-of-options",
                             f"{rev}^{{commit}}")
            if done.returncode != 0 or not self.has_commit(done.stdout.strip()):
                raise NotFoundError(f"unknown revision {rev[:80]!r}") from None
            return done.stdout.strip()
        return str(commit.id)

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits."""
        try:
            base = self.repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        except (ValueError, pygit2.GitError):  # a commit libgit2 cannot parse: git can
            done = self._git("merge-base", a, b)
            return done.stdout.strip() or None if done.returncode == 0 else None
        return str(base) if base else None

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        """Whether ``ancestor`` is ``commit`` or reachable from it."""
        if ancestor == commit:
            return True
        try:
            return self.repo.descendant_of(pygit2.Oid(hex=commit), pygit2.Oid(hex=ancestor))
        except KeyError:
            return False
        except (ValueError, pygit2.GitError):  # a commit libgit2 cannot parse: git can
            return self._git("merge-base", "--is-ancestor", ancestor, commit).returncode == 0
