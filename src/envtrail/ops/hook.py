"""envtrail's git hooks: no plaintext dotenv values or hand edits committed, no store line
that does not verify pushed."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path, PurePosixPath

from envtrail.errors import EnvtrailError, IntegrityError
from envtrail.format import dotenv, envfile, layout
from envtrail.gitstore.discover import git_dir
from envtrail.gitstore.refs import head_ref
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import envrc, plaintext
from envtrail.ops.hookfiles import Refusal, store_branch


def file_kind(path: str) -> str | None:
    """``"dotenv"``, ``"envrc"`` or None: which reading a staged file gets, by its base name.

    A name is a dotenv file when it starts with ``.env`` and no letter follows
    (``.env``, ``.env.local``, ``.env-ci``, ``.env_prod``, and the copies tools
    make: ``.env~``, ``.env copy``, ``.env - Copy``, ``.env (1)``, ``.env1``), or
    ends with ``.env`` (``prod.env``, and an editor's backup ``prod.env~``).
    ``.envrc`` followed by no letter is direnv's (``.envrc.local``, ``.envrc~``).
    Any case: ``.ENV`` is ``.env`` where the file system ignores case (macOS,
    Windows). ``.environment.ts`` and ``.envoy.yaml`` are other words.
    """
    name = _base_name(path)
    if _starts_word(name, ".envrc"):
        return "envrc"
    if _starts_word(name, ".env") or name.rstrip("~").endswith(".env"):
        return "dotenv"
    return None


def _starts_word(name: str, stem: str) -> bool:
    # A copy marker, a separator or a digit may follow the stem; a letter makes another word.
    return name.startswith(stem) and not name[len(stem):len(stem) + 1].isalpha()


def _base_name(path: str) -> str:
    return PurePosixPath(path).name.casefold()


EXAMPLE_WORDS = frozenset({"example", "sample", "template"})


def is_example(path: str) -> bool:
    """A dotenv template meant for git: ``.env.example``, ``.env.sample``, ``.env.template``
    (also after another part, ``.env.local.example``, or after ``-``/``_``, ``.env-example``)
    and ``example.env``, ``app.sample.env``. A copy of one (``.env.example~``,
    ``.env.example copy``) is not: the name says nothing about what was filled in
    since, and git wants no backups, so such a copy is refused whatever it holds."""
    parts = re.split(r"[._-]", _base_name(path))
    return parts[-1] in EXAMPLE_WORDS or (parts[-1] == "env" and len(parts) > 1
                                          and parts[-2] in EXAMPLE_WORDS)


def _dotenv_refusal(path: str, data: bytes) -> Refusal | None:
    instead = (f"keep it out of git (add {PurePosixPath(path).name} to .gitignore) and run "
               f"`envtrail import {path} --env <env> --reason ...`")
    try:
        text = data.decode("utf-8")
        values = dotenv.parse(text, path)
    except (UnicodeDecodeError, EnvtrailError):
        return Refusal(path, "a dotenv file envtrail cannot read; it may hold secrets", instead)
    filled = sorted(k for k, v in values.items() if v.strip())
    if filled:
        return Refusal(path, f"plaintext dotenv file with values ({', '.join(filled[:3])}"
                             f"{', ...' if len(filled) > 3 else ''})", instead)
    if not is_example(path):
        # Whatever it holds now (values in comments, say), a .env is where secrets go.
        return Refusal(path, "a dotenv file that is not an example file (.env.example, "
                             ".env.sample, .env.template); it may hold secrets", instead)
    lines = plaintext.commented_values(text)
    if lines:
        return Refusal(path, f"an example file with a value in a comment ({_line_list(lines)})",
                       "leave every NAME= empty in comments too, then stage it again")
    return None


def _envrc_refusal(path: str, data: bytes) -> Refusal | None:
    # direnv's own commands (`use flake`, `dotenv`, `PATH_add bin`) are fine in git; a
    # variable given a value is where a secret goes, and envtrail cannot tell which it is.
    # Bash has too many ways to set one to list them, so only known-harmless lines pass.
    instead = (f"set no values in it: load them with `eval \"$(envtrail export --env <env> "
               f"--format shell)\"` there, or keep it out of git (add "
               f"{PurePosixPath(path).name} to .gitignore)")
    try:
        lines = envrc.refused_lines(data.decode("utf-8"))
    except UnicodeDecodeError:
        return Refusal(path, "a direnv file envtrail cannot read; it may hold secrets", instead)
    if lines:
        return Refusal(path, f"a direnv file that may set a variable ({_line_list(lines)})",
                       instead)
    return None


def _line_list(numbers: list[int]) -> str:
    return f"line {', '.join(map(str, numbers[:5]))}{', ...' if len(numbers) > 5 else ''}"


_READERS = {"dotenv": _dotenv_refusal, "envrc": _envrc_refusal}


def check_staged(git: GitRepo, files: list[str] | None = None,
                 index_file: str | None = None, merging: bool = False) -> list[Refusal]:
    """Refusals for what the index would commit (the work tree is not consulted).

    ``index_file`` is git's ``GIT_INDEX_FILE``: `git commit -a` and `git commit
    <paths>` stage into a temporary index and point hooks at it. ``merging``:
    git is committing a merge itself (its pre-merge-commit hook, which runs
    before MERGE_HEAD exists).
    """
    index = git.index(index_file)
    head = git.head()
    store = store_branch(git, head)
    on_store = store is None or store == head_ref(git.root)
    staged = _staged_paths(git, head, index)
    if files:
        wanted = {PurePosixPath(os.path.relpath(Path(f).resolve(), git.root)).as_posix()
                  if Path(f).is_absolute() else PurePosixPath(f).as_posix() for f in files}
        staged = {p: s for p, s in staged.items() if p in wanted or layout.is_store_path(p)}
    out: list[Refusal] = []
    if store is not None and on_store:
        out.append(_store_branch_refusal(merging or _merge_head(git) is not None))
    for path, blob in sorted(staged.items()):
        data = None if blob is None else git.blob(blob)
        read = _READERS.get(file_kind(path))
        if read is not None and data is not None:
            r = read(path, data)
            if r:
                out.append(r)
        elif layout.is_store_path(path):
            out.append(_store_refusal(path, data) if on_store else _code_branch_refusal(
                path, store or ""))
    return out


def _staged_paths(git: GitRepo, head: str | None, index) -> dict[str, str | None]:
    """Path -> staged blob id (None: staged deletion or a submodule), for paths differing
    from HEAD (every path before the first commit)."""
    # Tree-to-index works for a standalone index (GIT_INDEX_FILE) too.
    staged = git.index_changes(head, index)
    for conflict_path in _conflicted(index):
        staged[conflict_path] = None
    return staged


def _conflicted(index) -> list[str]:
    conflicts = index.conflicts
    if conflicts is None:
        return []
    return sorted({(e[1] or e[0] or e[2]).path for e in conflicts})


def _merge_head(git: GitRepo) -> str | None:
    try:
        return (git_dir(git.root) / "MERGE_HEAD").read_text().split()[0]
    except (OSError, IndexError):
        return None


def _store_branch_refusal(merge: bool) -> Refusal:
    # envtrail commits without running hooks, so whatever reaches this hook
    # on the store branch is a commit git would put on the line: a finding.
    if merge:
        return Refusal("(merge commit)", "the store branch holds no merges: a merge puts "
                       "a state on the line that nobody signed",
                       "abort it with `git merge --abort`, then bring both sides together "
                       "with `envtrail sync`")
    return Refusal("(commit)", "the store branch holds only envtrail's signed commits; a "
                   "commit made with git would stop every verified read",
                   "keep other files on another branch or repository, and change the store "
                   "through envtrail")


def _store_refusal(path: str, data: bytes | None) -> Refusal:
    restore = f"discard it with `git restore --staged --worktree -- {shlex.quote(path)}`"
    if path.startswith("envs/") and path.endswith(".yaml") and data is not None:
        try:
            envfile.parse(data, path)
        except IntegrityError as exc:
            return Refusal(path, f"not a valid, fully encrypted environment ({exc.message})",
                           restore + "; change values with `envtrail set`")
    what = "`envtrail set/unset/import`" if path.startswith("envs/") else \
        "`envtrail access ...` or `envtrail policy set`"
    return Refusal(path, "changed outside envtrail (envtrail never stages; a hand edit, "
                         "merge resolution included, bypasses the audit trail)",
                   f"{restore}, then use {what}")


def _code_branch_refusal(path: str, store: str) -> Refusal:
    branch = store.removeprefix("refs/heads/")
    return Refusal(path, f"the store lives on branch {branch}; code branches never carry "
                         "envs/ or .envtrail/",
                   f"unstage it with `git rm --cached -r -- {shlex.quote(path)}` and change the "
                   "store through envtrail")
