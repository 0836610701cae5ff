"""Reading the trees of commits: paths, folders and blobs, with the few listings a walk needs.

History walks ask several paths of a commit and of its parent in a row, and
neighbouring commits share most subtrees, so listings are remembered by tree
id and almost every path is answered without an object lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import pygit2

from envtrail.errors import IntegrityError
from envtrail.gitstore.rawcommit import RawCommit

_TREE, _BLOB = int(pygit2.enums.FileMode.TREE), int(pygit2.enums.FileMode.BLOB)
_GITLINK = int(pygit2.enums.FileMode.COMMIT)
FOLDER_MODES = (_TREE, _GITLINK)  # entries a checkout turns into a folder
GITLINK_MODE = _GITLINK  # a submodule: the id of another repository's commit
LINK_MODE = int(pygit2.enums.FileMode.LINK)
_BLOB_TYPE = pygit2.enums.ObjectType.BLOB


class Trees:
    """The content half of :class:`envtrail.gitstore.repo.GitRepo` (``self.repo``: pygit2)."""

    repo: pygit2.Repository
    _commit: Callable[[str], RawCommit]  # GitRepo reads commits

    def _forget_trees(self) -> None:
        self._roots: OrderedDict[str, str] = OrderedDict()
        self._listings: OrderedDict[str, dict[str, tuple[str, int]] | None] = OrderedDict()
        self._paths: dict[tuple[str, str], tuple[str, int] | None] = {}
        # Trees git fsck refuses (a name twice, entries out of git's order), by id:
        # rare, and kept apart from the listings so a shape check still finds them.
        self._malformed: dict[str, str] = {}

    def _root(self, commit_id: str, known: str | None = None) -> str:
        """The id of a commit's tree (``known``: that id, if the caller has it)."""
        tree = self._roots.get(commit_id)
        if tree is None:
            tree = known if known is not None else self._commit(commit_id).tree
            if tree is None:
                raise IntegrityError(f"commit {commit_id[:12]} names no tree")
            self._roots[commit_id] = tree
            if len(self._roots) > 64:
                self._roots.popitem(last=False)
        return tree

    def tree_id(self, commit_id: str) -> str:
        """The id of a commit's tree, read from the commit's bytes."""
        return self._root(commit_id)

    def _listing(self, tree_id: str) -> dict[str, tuple[str, int]] | None:
        """A tree's entries, name -> (object id, file mode); None if the object is not a tree.

        History walks ask several paths of a commit and of its parent in a
        row, and neighbouring commits share most subtrees: remembering a few
        hundred listings by tree id (first in, first out) saves nearly every
        object lookup.
        """
        listing = self._listings.get(tree_id, False)
        if listing is False:
            obj = self._object(tree_id)
            listing = self._entries(tree_id, obj) if isinstance(obj, pygit2.Tree) else None
            self._listings[tree_id] = listing
            if len(self._listings) > 256:
                self._listings.popitem(last=False)
        return listing

    def _entries(self, tree_id: str, tree: pygit2.Tree) -> dict[str, tuple[str, int]]:
        """A tree's entries as git reads them; a tree git fsck refuses is remembered."""
        entries = [(e.raw_name, e.name, str(e.id), e.filemode) for e in tree]
        # A name listed twice reads as its last entry, as a checkout writes it (while
        # `git show` reads the first): git disagrees with itself, so it is a finding.
        listing = {name: (oid, mode) for _, name, oid, mode in entries}
        # git sorts a folder as if its name ended in "/", compares bytes, and stops
        # looking at the first entry that sorts after the name it wants.
        order = [raw + b"/" if mode == _TREE else raw for raw, _, _, mode in entries]
        if len(listing) != len(entries):
            names = [name for _, name, _, _ in entries]
            twice = sorted({name for name in names if names.count(name) > 1})
            self._malformed[tree_id] = f"lists {', '.join(map(_shown, twice))} twice"
        elif order != sorted(order):
            self._malformed[tree_id] = "lists its entries out of git's order"
        return listing

    def _object(self, oid: str) -> pygit2.Object:
        """An object by id; IntegrityError if this clone does not hold it."""
        try:
            return self.repo[oid]
        except KeyError:
            raise _missing(oid) from None

    def _lookup(self, commit_id: str | None, path: str) -> tuple[str, int] | None:
        """(object id, file mode) at ``path`` in a commit's tree, or None if absent."""
        if commit_id is None:
            return None
        # A judged commit asks about a dozen paths of itself and of its parent,
        # which was judged just before: answers are kept by commit and path.
        slot = (commit_id, path)
        found = self._paths.get(slot, False)
        if found is not False:
            return found
        found = (self._root(commit_id), _TREE)
        for part in path.split("/"):
            listing = self._listing(found[0]) if found[1] == _TREE else None
            found = listing.get(part) if listing is not None else None
            if found is None:
                break
        if len(self._paths) >= 1024:  # flat memory: start again
            self._paths.clear()
        self._paths[slot] = found
        return found

    def entry_id(self, commit_id: str | None, path: str) -> str | None:
        """The object id at ``path`` in a commit's tree, or None if absent."""
        found = self._lookup(commit_id, path)
        return None if found is None else found[0]

    def file_id(self, commit_id: str | None, path: str) -> str | None:
        """The blob id of the file at ``path`` in a commit's tree, or None if absent;
        IntegrityError if a folder or a submodule stands where the file belongs."""
        # A submodule's id names a commit that need not exist anywhere: read as a
        # file it would be a missing object, not the malformed file it is.
        found = self._lookup(commit_id, path)
        if found is not None and found[1] in FOLDER_MODES:
            what = "a submodule" if found[1] == _GITLINK else "a folder"
            raise IntegrityError(f"{path}: {what} where a file belongs")
        return None if found is None else found[0]

    def differing(self, a: str | None, b: str, paths: tuple[str, ...]) -> list[str]:
        """Those of ``paths`` whose entry differs between two commits (``a`` None: absent).

        Equal trees, or equal folders above a path, answer without looking further.
        """
        if a is not None and self._root(a) == self._root(b):
            return []
        same_folder: dict[str, bool] = {}
        out = []
        for path in paths:
            folder = path.rpartition("/")[0]
            if folder and folder not in same_folder:
                same_folder[folder] = self._lookup(a, folder) == self._lookup(b, folder)
            if not same_folder.get(folder) and self._lookup(a, path) != self._lookup(b, path):
                out.append(path)
        return out

    def other_entries_differ(self, a: str | None, b: str, names: tuple[str, ...]) -> bool:
        """Whether the top-level trees of two commits differ outside ``names``."""
        def rest(commit: str | None) -> dict[str, tuple[str, int]]:
            if commit is None:
                return {}
            listing = self._listing(self._root(commit)) or {}
            return {name: entry for name, entry in listing.items() if name not in names}

        return rest(a) != rest(b)

    def shape_problems(self, commit_id: str, settings: str, allowed: tuple[str, ...],
                       folder: str, attributes: str) -> list[str]:
        """Entries that break the store's shape: in ``settings`` only the ``allowed`` files,
        in ``folder`` only ``*.yaml`` files, and every one (and ``attributes``) a plain file."""
        root = self._root(commit_id)
        self._listing(root)
        out = [f"the top-level tree {self._malformed[root]}"] if root in self._malformed else []
        for name, wanted in ((settings, {p.rsplit("/", 1)[1] for p in allowed}), (folder, None)):
            found = self._lookup(commit_id, name)
            if found is None:
                continue
            sub = self._listing(found[0]) if found[1] == _TREE else None
            if sub is None:
                out.append(f"{name} is not a folder")
                continue
            if found[0] in self._malformed:
                out.append(f"{name} {self._malformed[found[0]]}")
            for entry, (_, mode) in sub.items():
                ok_name = entry in wanted if wanted is not None else entry.endswith(".yaml")
                if not ok_name or mode != _BLOB:
                    out.append(f"{name}/{_shown(entry)} is not a file the store may hold")
        found = self._lookup(commit_id, attributes)
        if found is not None and found[1] != _BLOB:
            out.append(f"{attributes} is not a plain file")
        return out

    def read(self, commit_id: str | None, path: str) -> bytes | None:
        """A file's content at a commit, or None if absent."""
        oid = self.file_id(commit_id, path)
        if oid is None:
            return None
        try:
            return self.blob(oid)
        except IntegrityError as exc:
            raise IntegrityError(f"{path}: {exc.message}", hint=exc.hint) from None

    def dir_entries(self, commit_id: str | None, folder: str) -> dict[str, str]:
        """File name -> blob id for the files directly in ``folder`` at a commit."""
        found = self._lookup(commit_id, folder)
        listing = self._listing(found[0]) if found is not None and found[1] == _TREE else None
        return {name: oid for name, (oid, mode) in (listing or {}).items()
                if mode not in (_TREE, _GITLINK)}

    def blob(self, blob_id: str) -> bytes:
        """The content of a blob by id; IntegrityError if the object is not a file or is
        missing from this clone."""
        # The raw read: an object looked up and then asked for its data is read twice.
        try:
            kind, data = self.repo.read(blob_id)
        except KeyError:
            raise _missing(blob_id) from None
        if kind != _BLOB_TYPE:
            raise IntegrityError(f"object {blob_id[:12]} is not a file")
        return data


def _missing(oid: str) -> IntegrityError:
    """The one answer to an object this clone lacks (a partial clone, a damaged one)."""
    return IntegrityError(f"object {oid[:12]} is missing from this clone",
                          hint="fetch the store branch in full (no --filter), then retry")


def _shown(name: str) -> str:
    """A tree entry's name for a message: anyone who can push picks it, so a newline or
    an escape sequence in it is written out (``\\n``, ``\\x1b``), never printed."""
    return name if name.isprintable() else \
        "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)
