"""Writing: trees with a few files changed, signed commits, CAS ref moves, work tree refresh.

A write goes: build blobs and tree from the base commit, create the signed
commit object, record a journal, move the branch with a compare-and-swap on
its old value, refresh the work tree and index, drop the journal. A crash at
any point leaves either the old or the new commit on the branch; the journal
lets the next write bring the work tree in line without manual steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2

from envtrail.errors import ConflictError
from envtrail.gitstore import marks
from envtrail.gitstore.discover import common_dir, journal_path
from envtrail.gitstore.refs import head_ref
from envtrail.gitstore.repo import GitRepo

FILE_MODE = pygit2.enums.FileMode.BLOB


class CasFailed(Exception):
    """The branch moved between reading it and moving it."""


class RefLocked(CasFailed):
    """Another process (git gc's pack-refs, a git command) holds the branch's lock."""


@dataclass(frozen=True)
class Author:
    """Who and when, for the commit's author and committer lines."""

    name: str
    email: str
    when: datetime


def not_before(when: datetime, *floors: datetime | None) -> datetime:
    """A new commit's date: ``when``, or the latest of ``floors`` (the commit it follows,
    the time floor of its line) where that is later. Times never go back along a line,
    so a writer whose clock runs behind records the floor, never a date rule 7 flags."""
    return max([when, *(floor for floor in floors if floor is not None)])


def _tree_with(repo: pygit2.Repository, base: pygit2.Tree | None,
               changes: Mapping[tuple[str, ...], bytes | None]) -> pygit2.Oid | None:
    """A tree equal to ``base`` with files replaced (bytes) or removed (None)."""
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    here = {parts[0]: data for parts, data in changes.items() if len(parts) == 1}
    below: dict[str, dict[tuple[str, ...], bytes | None]] = {}
    for parts, data in changes.items():
        if len(parts) > 1:
            below.setdefault(parts[0], {})[parts[1:]] = data
    for name, data in here.items():
        if data is None:
            if builder.get(name) is not None:
                builder.remove(name)
        else:
            builder.insert(name, repo.create_blob(data), FILE_MODE)
    for name, sub in below.items():
        if here.get(name) is not None:
            continue  # a file replaces whatever folder was there, and everything in it
        entry = builder.get(name)
        sub_base = repo[entry.id] if entry is not None and entry.type_str == "tree" else None
        sub_id = _tree_with(repo, sub_base, sub)
        if sub_id is None:
            if entry is not None:
                builder.remove(name)
        else:
            builder.insert(name, sub_id, pygit2.enums.FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def create_commit(git: GitRepo, parents: list[str], changes: Mapping[str, bytes | None],
                  message: str, author: Author, sign: Callable[[bytes], str],
                  tree: pygit2.Oid | None = None, base: str | None = None) -> str:
    """Write blobs, tree and a signed commit object; return its id. Moves no ref.

    The tree is the first parent's (or ``base`` commit's) with ``changes``
    applied, unless a finished ``tree`` is given (a merge).
    """
    repo = git.repo
    if tree is None:
        start = base or (parents[0] if parents else None)
        base_tree = repo[git.tree_id(start)] if start else None
        split = {tuple(path.split("/")): data for path, data in changes.items()}
        tree = _tree_with(repo, base_tree, split) or repo.TreeBuilder().write()
    content = commit_text(str(tree), parents, author, message)
    signature = sign(content.encode("utf-8"))
    return str(repo.create_commit_with_signature(content, signature))


def commit_text(tree: str, parents: list[str], author: Author, message: str) -> str:
    """The unsigned commit object, as libgit2 would write it.

    Written here because libgit2 parses the parent commits to write one, and a
    repair must be able to follow any commit someone pushed.
    """
    offset = int(author.when.utcoffset().total_seconds() // 60) if author.when.utcoffset() else 0
    sig = pygit2.Signature(author.name, author.email, int(author.when.timestamp()), offset)
    hours, minutes = divmod(abs(sig.offset), 60)
    ident = f"{sig.name} <{sig.email}> {sig.time} {'-' if sig.offset < 0 else '+'}" \
            f"{hours:02d}{minutes:02d}"
    return (f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
            + f"author {ident}\ncommitter {ident}\n\n{message}")


def move_branch(git: GitRepo, ref_name: str, old: str | None, new: str, reason: str) -> None:
    """Point ``ref_name`` at ``new`` only if it still points at ``old``.

    CasFailed if it points elsewhere; RefLocked if another process (git gc's
    pack-refs, a git command) kept the ref busy through a few short retries.
    """
    marks.began()  # an interrupt from here on may come after the move
    for attempt in range(1, _MOVE_ATTEMPTS + 1):
        try:
            _move_once(git, ref_name, old, new, reason)
            return
        except RefLocked:
            time.sleep(0.02 * attempt)
    raise RefLocked


_MOVE_ATTEMPTS = 6


def _move_once(git: GitRepo, ref_name: str, old: str | None, new: str, reason: str) -> None:
    repo = git.repo
    try:
        if old is None:
            repo.references.create(ref_name, pygit2.Oid(hex=new))
        else:
            ref = repo.lookup_reference(ref_name)
            if str(ref.target) != old:
                raise CasFailed
            ref.set_target(pygit2.Oid(hex=new), reason)
    except (pygit2.AlreadyExistsError, pygit2.GitError) as exc:
        # libgit2 also fails a move whose ref file was rewritten under it with the
        # same target (pack-refs packing it): only a different target is a lost race.
        if old is not None and git.ref_target(ref_name) == old:
            raise RefLocked from exc
        raise CasFailed from exc
    except OSError as exc:
        # libgit2 reports a held `<ref>.lock` as an OSError; the holder is usually brief.
        raise RefLocked from exc


def checkout_of(git: GitRepo) -> GitRepo | None:
    """The work tree the store branch is checked out in: this one, another worktree of the
    clone (git checks a branch out in one at most; a write from elsewhere moves the branch
    under its files, which must follow), or None where none has it."""
    if git.worktree_mode():
        return git
    names = git.repo.list_worktrees()
    if not names:
        return None  # no linked worktree, so no other work tree (most clones)
    try:
        ref, roots = git.store_ref(), []
    except ConflictError:
        return None  # HEAD detached and no store branch named: none to look for
    for name in names:
        with contextlib.suppress(pygit2.GitError, KeyError):  # one removed by hand
            roots.append(Path(git.repo.lookup_worktree(name).path))
    with contextlib.suppress(pygit2.GitError):
        main = pygit2.Repository(str(common_dir(git.root)))
        if not main.is_bare:
            roots.append(Path(main.workdir))
    for root in roots:
        if root.resolve() != git.root.resolve() and head_ref(root) == ref:
            return GitRepo(root)
    return None


def refresh_worktree(git: GitRepo, commit_id: str, paths: list[str]) -> None:
    """Make work tree files and index entries for ``paths`` equal the commit."""
    index = git.repo.index
    index.read()
    tree = git.repo[git.tree_id(commit_id)]
    for path in paths:
        target = git.root / path
        if _is_folder(target):
            # A folder a forged commit checked out where a store file belongs (the
            # caller's dirty check made sure it holds nothing but that checkout).
            shutil.rmtree(target)
            index.remove_all([f"{path}/*"])
        try:
            entry = tree[path]
        except KeyError:
            entry = None
        if entry is None or entry.type_str != "blob":
            # Gone already if a file now stands where its folder was.
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                target.unlink()
            if path in index:
                index.remove(path)
            continue
        data = git.blob(str(entry.id))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.envtrail-tmp")
        tmp.unlink(missing_ok=True)
        if entry.filemode == pygit2.enums.FileMode.LINK:
            os.symlink(data, tmp)
        else:
            tmp.write_bytes(data)
            if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                tmp.chmod(0o755)
        os.replace(tmp, target)
        index.add(path)
    index.write()


def _is_folder(path: Path) -> bool:
    """A real folder at ``path`` (never following a link, whatever its target)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


# -- crash journal ------------------------------------------------------


def _journal_path(git: GitRepo) -> Path:
    return journal_path(git.root)


def journal_begin(git: GitRepo, ref: str, old: str | None, new: str, paths: list[str]) -> None:
    """Record an in-flight write before the branch moves."""
    path = _journal_path(git)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"ref": ref, "old": old, "new": new, "paths": paths}))
    os.replace(tmp, path)


def journal_end(git: GitRepo) -> None:
    """The write is complete: work tree and index match the branch."""
    _journal_path(git).unlink(missing_ok=True)


def has_journal(git: GitRepo) -> bool:
    """Whether a write was interrupted (cheap: one stat)."""
    return _journal_path(git).exists()


def recover(git: GitRepo) -> bool:
    """Finish or discard a write that a crash interrupted; True if one was found.

    If the branch moved to the new commit but the work tree still holds the
    old files, the files are refreshed. A file that holds neither the old nor
    the new content was edited by hand after the crash and is left alone.
    The journal of the worktree that has the store branch checked out is
    looked at too: a write from this one refreshes the files there.
    """
    found = _recover(git)
    tree = checkout_of(git)
    return (_recover(tree) if tree is not None and tree.root != git.root else False) or found


def _recover(git: GitRepo) -> bool:
    path = _journal_path(git)
    try:
        entry = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return True
    _drop_own_ref_lock(git, entry)
    try:
        current = str(git.repo.lookup_reference(entry["ref"]).target)
    except (KeyError, pygit2.GitError):
        current = None
    if current == entry.get("new"):
        safe = []
        for p in entry.get("paths", []):
            on_disk = git.read_workdir(p)
            blob = None if on_disk is None else str(pygit2.hash(on_disk))
            if blob in {git.entry_id(entry.get("old"), p), git.entry_id(current, p)}:
                safe.append(p)
        refresh_worktree(git, current, safe)
    path.unlink(missing_ok=True)
    return True


def _drop_own_ref_lock(git: GitRepo, entry: dict) -> None:
    """Remove the branch's lock file if the interrupted write left it.

    libgit2 writes the new target into ``<ref>.lock`` before renaming it into
    place; a process killed in between leaves the lock, and git never removes
    one by itself. A lock that holds exactly the commit this journal was about
    to write is ours (no other writer knows that commit); any other lock belongs
    to someone else and stays.
    """
    new, ref = entry.get("new"), entry.get("ref")
    if not isinstance(new, str) or not isinstance(ref, str) or not ref.startswith("refs/"):
        return
    lock = common_dir(git.root) / f"{ref}.lock"  # branches and refs/envtrail/ are shared
    try:
        held = lock.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return
    if held == new:
        lock.unlink(missing_ok=True)


def require_clean(git: GitRepo, commit_id: str | None, paths: list[str]) -> None:
    """ConflictError if any path has uncommitted changes in the work tree or index."""
    for path in paths:
        if git.dirty(commit_id, path):
            raise ConflictError(
                f"{path} has uncommitted changes; envtrail will not write over them",
                hint=f"discard them with `git checkout HEAD -- {path}` and retry through envtrail",
            )


# git packs loose objects when `gc.auto` (6700) are lying around, checking one
# of the 256 fan-out folders as a sample; libgit2 never does, so envtrail asks
# git to after its own writes. Long unpacked histories are slow to read.
_LOOSE_SAMPLE_LIMIT = 6700 // 256


def maybe_pack(git: GitRepo) -> bool:
    """Start ``git gc --auto`` in the background if loose objects pile up; True if started."""
    import subprocess

    sample = common_dir(git.root) / "objects" / "17"
    try:
        loose = sum(1 for _ in sample.iterdir())
    except OSError:
        return False
    if loose <= _LOOSE_SAMPLE_LIMIT:
        return False
    try:
        subprocess.Popen(["git", "-C", str(git.root), "gc", "--auto", "--quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return False  # no git on PATH: reads stay correct, just slower
    return True
