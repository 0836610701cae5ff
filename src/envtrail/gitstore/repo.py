"""Reading a Git repository: revisions, blobs at a commit, work tree and index state."""

from __future__ import annotations

import heapq
import os
import stat
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pygit2

from envtrail.errors import ConflictError, IntegrityError, NotFoundError, UsageError
from envtrail.gitstore import rawcommit
from envtrail.gitstore.discover import common_dir, git_dir, uses_sha256
from envtrail.gitstore.rawcommit import CommitInfo, RawCommit
from envtrail.gitstore.rawcommit import info as _info
from envtrail.gitstore.refops import RefOps
from envtrail.gitstore.trees import FOLDER_MODES, GITLINK_MODE, LINK_MODE, Trees

STORE_BRANCH_KEY = "envtrail.branch"  # the clone's config key naming the store branch

# libgit2's object cache (256 MiB by default, and still growing past a
# smaller limit) makes a walk's memory grow with history length. envtrail
# walks forward and keeps the few objects it needs itself (_trees, StoreView),
# so it turns the cache off: memory stays flat at a small cost in speed.
pygit2.settings.enable_caching(False)


class GitRepo(RefOps, Trees):
    """A pygit2 repository with the few operations envtrail needs."""

    def __init__(self, root: Path) -> None:
        try:
            self.repo = pygit2.Repository(str(root))
        except pygit2.GitError:
            if uses_sha256(root):
                raise UsageError("SHA-256 repositories are not supported: libgit2 reads "
                                 "SHA-1 ones only",
                                 hint="keep the store in a repository made with "
                                      "`git init --object-format=sha1`") from None
            raise NotFoundError(f"{root} is not a Git repository") from None
        if self.repo.is_bare:
            raise NotFoundError("envtrail needs a work tree, not a bare repository")
        self.root = Path(self.repo.workdir)
        if git_dir(self.root).resolve() != Path(self.repo.path).resolve():
            # A work tree set apart by core.worktree has no .git leading back here: the
            # pin, checkpoint and lock would be written into the work tree (its own new
            # .git/envtrail/), and a forked walker could not open the clone (attack36).
            raise UsageError("a work tree set apart from its Git directory (core.worktree) "
                             "is not supported",
                             hint="clone the store into a folder of its own, or link the two "
                                  "with `git worktree add`")
        self.walked = 0  # commits visited by walk_touching: tests count work with it
        self._forget_trees()
        self._commits: OrderedDict[str, RawCommit] = OrderedDict()

    def reopen(self) -> None:
        """Open the repository afresh (after git itself changed what libgit2 caches)."""
        self.repo = pygit2.Repository(str(self.root))
        self._forget_trees()
        self._commits = OrderedDict()

    @classmethod
    def init(cls, root: Path) -> GitRepo:
        """Create a new repository with ``main`` as its first branch."""
        pygit2.init_repository(str(root), initial_head="main")
        return cls(root)

    # -- history ---------------------------------------------------------

    def is_shallow(self) -> bool:
        """A shallow or grafted repository: some commits' parents are cut off."""
        return self.repo.is_shallow or (common_dir(self.root) / "info" / "grafts").exists()

    def is_partial(self) -> bool:
        """A partial clone (``git clone --filter``): git fetches the objects it left out
        when it needs them, libgit2 never does, so old versions of files are missing."""
        config = self.repo.config
        for entry in config:  # the keys git itself asks (has_promisor_remote)
            name = entry.name.lower()
            if name == "extensions.partialclone" or (
                    name.startswith("remote.") and name.endswith(".promisor")
                    and config.get_bool(entry.name)):
                return True
        return False

    def has_commit(self, commit_id: str) -> bool:
        """Whether the object database holds this commit."""
        try:
            return self.repo.read(commit_id)[0] == pygit2.enums.ObjectType.COMMIT
        except (KeyError, ValueError, TypeError):
            return False

    def first_parents(self, head: str, stop: str | None = None, *,
                      links_checked: bool = False) -> tuple[list[str], bool]:
        """Ids along the first-parent chain from ``head``, newest first, down to the
        root or to ``stop`` (excluded); the flag says whether ``stop`` was met.

        ``links_checked``: the caller reads every commit and checks that each one's
        first parent is the id after it, so a whole chain may come from git itself.
        """
        if links_checked and stop is None:
            listed = self._rev_list(head)
            if listed is not None:
                return listed, True
        out, current = [], head
        while current is not None:
            if current == stop:
                return out, True
            out.append(current)
            parents = self._commit(current).parents
            current = parents[0] if parents else None
        return out, stop is None

    def oldest_first(self, head: str, stop: str | None = None) -> list[str]:
        """:meth:`first_parents` from the other end: the chain up to ``head``, oldest first
        (from the root, or from just after ``stop``)."""
        return self.first_parents(head, stop)[0][::-1]

    def _rev_list(self, head: str) -> list[str] | None:
        """The first-parent chain from ``head`` as `git rev-list` prints it, or None.

        Several times faster than reading each commit here (git answers from its
        commit-graph), but the answer is git's word: replace objects are ignored,
        and the caller checks every link against the commits it reads.
        """
        try:
            done = self._git("rev-list", "--first-parent", head, "--")
        except OSError:  # no git on PATH: the caller reads the commits itself
            return None
        ids = done.stdout.split()
        return ids if done.returncode == 0 and ids and ids[0] == head else None

    def first_parents_saying(self, head: str, pattern: str) -> list[str] | None:
        """Ids on ``head``'s first-parent chain whose message has a line matching
        ``pattern`` (git's regex), newest first; None where git cannot answer."""
        try:
            done = self._git("rev-list", "--first-parent", f"--grep={pattern}", head, "--")
        except OSError:
            return None
        return done.stdout.split() if done.returncode == 0 else None

    def changed_paths(self, a: str | None, b: str) -> list[str]:
        """Files that differ between two commits (both sides of renames)."""
        if a is None:
            return sorted(e.path for e in self._index_of(b))
        if self._root(a) == self._root(b):
            return []  # (every marker: approvals, events)
        diff = self.repo.diff(self._object(self._root(a)), self._object(self._root(b)))
        return sorted({p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)})

    def _index_of(self, commit: str) -> pygit2.Index:
        index = pygit2.Index()
        index.read_tree(self._object(self._root(commit)))
        return index

    def commit_at(self, when: datetime, head: str | None) -> str:
        """The newest commit on ``head``'s first-parent chain committed at or before ``when``."""
        current = head
        while current is not None:
            commit = self._commit(current)
            if commit.committer_time <= when:
                return current
            current = commit.parents[0] if commit.parents else None
        raise NotFoundError(f"no commit at or before {when.isoformat()}")

    def info(self, commit_id: str) -> CommitInfo:
        """Metadata of one commit, read from its bytes: never an error for an odd commit,
        whose oddities come back as ``flaws``."""
        commit = self._commit(commit_id)
        self._root(commit_id, commit.tree)  # its paths are usually asked for next
        return _info(commit_id, commit)

    def commit_time(self, commit_id: str) -> int:
        """A commit's committer time in seconds since the epoch: ``info`` without
        parsing the rest, for a pass over a whole line. A commit libgit2 cannot read,
        or a time no date can hold, is read as ``info`` reads it."""
        try:
            seconds = self.repo[commit_id].commit_time
        except (ValueError, pygit2.GitError):
            seconds = -1
        if 0 <= seconds <= rawcommit.LAST_SECONDS:
            return seconds
        return int(self._commit(commit_id).committer_time.timestamp())

    def signature(self, commit_id: str) -> tuple[bytes | None, bytes]:
        """The ``gpgsig`` header and the payload it signs, exactly where git finds them."""
        commit = self._commit(commit_id)
        return commit.signature, commit.payload

    def _commit(self, commit_id: str) -> RawCommit:
        # Walks ask for a commit's metadata, its signature and its neighbours' in turn
        # (log reads each twice): the last few hundred are kept, for flat memory.
        found = self._commits.get(commit_id)
        if found is None:
            kind, data = self.repo.read(commit_id)  # KeyError when it is missing
            if kind != pygit2.enums.ObjectType.COMMIT:
                raise IntegrityError(f"{commit_id[:12]} is not a commit")
            found = self._commits[commit_id] = rawcommit.parse(data)
            if len(self._commits) > 256:
                self._commits.popitem(last=False)
        return found

    def _git(self, *args: str):
        """Run git on this repository (no replace objects), for what libgit2 cannot read."""
        import subprocess

        return subprocess.run(["git", f"--git-dir={self.repo.path}", "--no-replace-objects",
                               *args], capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)

    def walk_touching(self, start: str | None, prefixes: tuple[str, ...],
                      hide: str | None = None, unchanged: bool = False,
                      saying: str | None = None) -> Iterator[CommitInfo]:
        """Commits reachable from ``start`` (and not from ``hide``), newest first,
        whose tree differs from their first parent's under any of ``prefixes``
        (compared by tree entry id, so no diff is computed); with ``unchanged``,
        also those whose tree equals their parent's (markers such as approvals);
        with ``saying``, also those with a message line that starts with it."""
        if start is None:
            return
        for this, commit in self._walk(start, hide):
            self.walked += 1
            self._root(this, commit.tree)
            parent = commit.parents[0] if commit.parents else None
            if any(self._lookup(this, p) != self._lookup(parent, p) for p in prefixes) or (
                    unchanged and parent is not None and self._root(this) == self._root(parent)
            ) or (saying is not None and f"\n{saying}" in f"\n{commit.message}"):
                yield _info(this, commit)

    def _walk(self, start: str, hide: str | None) -> Iterator[tuple[str, RawCommit]]:
        """Newest first by committer time, ties by id: the same order every time.

        A full walk keeps only the frontier and the ids seen, where libgit2's
        revwalk would hold a node per commit; with ``hide`` (an incremental
        check, usually a few commits) git lists what to leave out.
        """
        hidden: set[str] = set()
        if hide is not None:
            done = self._git("rev-list", hide, "--")
            hidden = set(done.stdout.split()) if done.returncode == 0 else {hide}
        if start in hidden:
            return
        first = self._commit(start)
        heap = [(-first.committer_time.timestamp(), start, first)]
        seen = {start}
        while heap:
            _, this, commit = heapq.heappop(heap)
            yield this, commit
            for parent in commit.parents:
                if parent not in seen and parent not in hidden:
                    seen.add(parent)
                    found = self._commit(parent)
                    heapq.heappush(heap, (-found.committer_time.timestamp(), parent, found))

    def index(self, path: str | None = None) -> pygit2.Index:
        """The repository's index, or the index file at ``path`` (relative to the work tree)."""
        if path is None:
            self.repo.index.read()
            return self.repo.index
        index_path = Path(path) if Path(path).is_absolute() else self.root / path
        return pygit2.Index(str(index_path))

    def index_changes(self, commit_id: str | None, index: pygit2.Index) -> dict[str, str | None]:
        """Path -> blob id in ``index`` (None: deleted there, or a submodule, whose id
        names another repository's commit: no file), for the paths where it differs
        from the commit's tree (None: no commit yet, every path); ``index`` may be a
        standalone index file."""
        if commit_id is None:
            return {e.path: None if e.mode == GITLINK_MODE else str(e.id) for e in index}
        changes: dict[str, str | None] = {}
        for delta in self.repo[self.tree_id(commit_id)].diff_to_index(index).deltas:
            if delta.status_char() == "D" or delta.new_file.mode == GITLINK_MODE:
                changes[delta.old_file.path] = None
            else:
                changes[delta.new_file.path] = str(delta.new_file.id)
        return changes

    def read_workdir(self, path: str) -> bytes | None:
        """A work tree file's content, or None if it does not exist."""
        try:
            return (self.root / path).read_bytes()
        except OSError:  # absent, a folder, or a link that leads nowhere readable
            return None

    def dirty(self, commit_id: str | None, path: str) -> bool:
        """Whether the work tree or the index differs from the commit at ``path``."""
        found = self._lookup(commit_id, path)
        if found is not None and found[1] in FOLDER_MODES:
            # A folder or submodule where the store keeps a file (a forged commit): what
            # git checked out there is clean if it holds nothing but that commit's files.
            return not self.only_checked_out(path)
        committed = self.entry_id(commit_id, path)
        link = self.root / path
        if found is not None and found[1] == LINK_MODE and link.is_symlink():
            data: bytes | None = os.fsencode(os.readlink(link))  # a link's blob is its target
        else:
            data = self.read_workdir(path)
        on_disk = None if data is None else str(pygit2.hash(data))
        if on_disk != committed:
            return True
        self.repo.index.read()
        index = self.repo.index
        try:
            entry = index[path] if path in index else None  # noqa: SIM401 - Index has no .get
        except KeyError:  # only conflict stages: a git merge left it unresolved
            raise ConflictError(f"{path} is in the middle of an unresolved git merge",
                                hint="abort it with `git merge --abort`; envtrail brings "
                                     "changes together with `envtrail sync`") from None
        return (str(entry.id) if entry else None) != committed

    def only_checked_out(self, path: str) -> bool:
        """Whether the folder at ``path`` (if any) holds only files the index tracks,
        unchanged: what a checkout put there, so nothing of the user's is in it."""
        folder = self.root / path
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return True
        except OSError:
            return False
        if not stat.S_ISDIR(mode):
            return False
        self.repo.index.read()
        index = self.repo.index
        for parent, _dirs, files in os.walk(folder):
            for name in files:
                file = Path(parent) / name
                rel = file.relative_to(self.root).as_posix()
                try:
                    entry = index[rel] if rel in index else None  # noqa: SIM401
                except KeyError:
                    return False
                if entry is None or file.is_symlink() or \
                        str(pygit2.hash(file.read_bytes())) != str(entry.id):
                    return False
        return True

    # -- config ----------------------------------------------------------

    def config_get(self, key: str) -> str | None:
        """A value from the repository's effective git config."""
        try:
            return self.repo.config[key]
        except KeyError:
            return None

    def config_set_local(self, key: str, value: str) -> bool:
        """Set a key in the clone's own config; True if it changed (the same value in
        ~/.gitconfig is no reason to skip it: envtrail reads the store branch locally)."""
        local = pygit2.Config(str(common_dir(self.root) / "config"))
        if key in local and local[key] == value:
            return False
        self.repo.config[key] = value
        return True
