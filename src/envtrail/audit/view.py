"""The one store reader: the store's files at any commit, each distinct blob parsed once.

:class:`StoreView` answers for any commit (history walks share most blobs, so
parsing is memoised by blob id); :class:`Snapshot` is that view pinned to one
commit, the shape writes and reads use.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from envtrail.errors import IntegrityError, NotFoundError
from envtrail.format import envfile, layout, policy, signers
from envtrail.format.envfile import EnvFile
from envtrail.format.policy import Policy
from envtrail.format.signers import Signer
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name


class StoreView:
    """Parsed store files by commit, memoised by blob id (history shares most blobs)."""

    # Walks visit a commit right after its parent, so a short memory is enough
    # and keeps memory flat however long the history is.
    ENV_CACHE = 64

    def __init__(self, git: GitRepo) -> None:
        self.git = git
        self._envs: OrderedDict[tuple[str, str], EnvFile | IntegrityError] = OrderedDict()
        self._signers: dict[str | None, list[Signer] | IntegrityError] = {}
        self._policies: dict[str | None, Policy | IntegrityError] = {}
        self._env_blobs: OrderedDict[str | None, dict[str, str]] = OrderedDict()

    def at(self, commit: str | None) -> Snapshot:
        """This view pinned to one commit."""
        return Snapshot(self.git, commit, self)

    def env_blobs(self, commit: str | None) -> dict[str, str]:
        """Environment name -> blob id at a commit."""
        blobs = self._env_blobs.get(commit)
        if blobs is None:
            blobs = envfile.by_environment(self.git.dir_entries(commit, layout.ENVS))
            self._env_blobs[commit] = blobs
            if len(self._env_blobs) > self.ENV_CACHE:
                self._env_blobs.popitem(last=False)
        return blobs

    def env_file(self, blob_id: str, environment: str) -> EnvFile:
        """The parsed environment file in ``blob_id``; IntegrityError if malformed."""
        # By blob and name: a byte copy of another environment's file is the same blob,
        # and must still fail the check that it names the environment it stands for.
        key = (blob_id, environment)
        cached = self._envs.get(key)
        if cached is not None:
            self._envs.move_to_end(key)
        else:
            cached = _parse_env(self.git.blob(blob_id), environment)
            self._envs[key] = cached
            if len(self._envs) > self.ENV_CACHE:
                self._envs.popitem(last=False)
        if isinstance(cached, IntegrityError):
            raise cached
        return cached

    def env_at(self, commit: str | None, environment: str) -> EnvFile | None:
        """An environment at a commit, or None if it does not exist there."""
        blob = self.env_blobs(commit).get(environment)
        return None if blob is None else self.env_file(blob, environment)

    def signers(self, commit: str | None) -> list[Signer]:
        """allowed_signers at a commit (empty if absent); IntegrityError if malformed."""
        return self._parsed(self._signers, commit, layout.SIGNERS, signers.parse, list)

    def policy(self, commit: str | None) -> Policy:
        """policy.yaml at a commit (defaults if absent); IntegrityError if malformed."""
        return self._parsed(self._policies, commit, layout.POLICY, policy.parse, policy.Policy)

    def _parsed(self, memo: dict, commit: str | None, path: str,
                parse: Callable[[bytes], Any], absent: Callable[[], Any]) -> Any:
        """A settings file at a commit, parsed once per blob; a parse failure is memoised too."""
        blob = self.git.file_id(commit, path)
        if blob not in memo:
            try:
                memo[blob] = absent() if blob is None else parse(self.git.blob(blob))
            except IntegrityError as exc:
                memo[blob] = exc if path in exc.message else \
                    IntegrityError(f"{path}: {exc.message}", hint=exc.hint)
        found = memo[blob]
        if isinstance(found, IntegrityError):
            raise found
        return found


class Snapshot:
    """The store's files as of one commit (None: nothing written yet)."""

    def __init__(self, git: GitRepo, commit: str | None, view: StoreView | None = None) -> None:
        self.git = git
        self.commit = commit
        self.view = view or StoreView(git)

    def read(self, path: str) -> bytes | None:
        """Raw content of a file at this commit."""
        return self.git.read(self.commit, path)

    def has_store(self) -> bool:
        """Whether this commit contains an envtrail store."""
        return self.git.entry_id(self.commit, layout.CONFIG) is not None

    def environments(self) -> list[str]:
        """Names of the environments in ``envs/``."""
        return sorted(self.view.env_blobs(self.commit))

    def env(self, name: str) -> EnvFile:
        """One environment file, parsed (NotFoundError if absent)."""
        check_env_name(name)
        found = self.view.env_at(self.commit, name)
        if found is None:
            raise NotFoundError(f"no environment {name!r}",
                                hint="list them with `envtrail env list`")
        return found

    @property
    def signers(self) -> list[Signer]:
        """The allowed signers at this commit."""
        return self.view.signers(self.commit)

    @property
    def policy(self) -> Policy:
        """The policy at this commit (defaults if the file is absent)."""
        return self.view.policy(self.commit)


class LineStates:
    """The store line's commits by position and by time: which state was current when.

    Events and proposals are judged at the state current when they were signed
    (never one before the commit they build on), so that a signer revoked since
    cannot reach back to an older commit.
    """

    def __init__(self, view: StoreView, line: Iterable[str],
                 times: Sequence[int] | None = None) -> None:
        self.view, self.line = view, list(line)  # oldest first
        # Each commit's committer time in seconds, if the caller read them all (a walk
        # did): else each is read as a question needs it.
        self._times = times
        # "is a line commit" and "in order" are lookups, where asking git for
        # ancestry walks the history once per question.
        self.position = {commit: index for index, commit in enumerate(self.line)}
        # _latest[j]: the earliest time among the last j+1 commits. Times along a line
        # may jump (a repair acknowledges a commit dated far ahead), so a search over
        # the times themselves can land before a revocation; over these minima, which
        # never rise towards the start, it cannot. Grown from the end only as far as a
        # question needs, so judging a recent event reads a few commits, not the line.
        self._latest: list[int] = []  # seconds since the epoch

    def current_at(self, when: datetime, not_before: str) -> str:
        """The newest line commit dated before ``when``, but never one before
        ``not_before``. A commit of the same second does not count: times have
        one-second steps, and what was signed just before a revocation must not be
        judged after it."""
        floor, size = self.position[not_before], len(self.line)
        minima, limit = self._latest, when.timestamp()
        while len(minima) < size - floor and (not minima or minima[-1] >= limit):
            t = self.seconds(size - 1 - len(minima))
            minima.append(min(t, minima[-1]) if minima else t)
        found = bisect.bisect_left(minima, True, key=lambda t: t < limit)
        if found == len(minima):
            return self.line[floor]
        return self.line[max(floor, size - 1 - found)]

    def seconds(self, position: int) -> int:
        """The committer time of the line commit at ``position``, in seconds."""
        if self._times is not None:
            return self._times[position]
        return self.view.git.commit_time(self.line[position])


def _parse_env(data: bytes, environment: str) -> EnvFile | IntegrityError:
    path = layout.env_path(environment)
    try:
        parsed = envfile.parse(data, path)
    except IntegrityError as exc:
        return exc
    if parsed.environment != environment:
        return IntegrityError(f"{path} says it is environment {parsed.environment!r}")
    return parsed


def value_diff(old: EnvFile | None, new: EnvFile | None) -> dict[str, str]:
    """Variable -> '+', '-' or '~' for every ciphertext that differs (no key needed)."""
    before = old.values if old else {}
    after = new.values if new else {}
    ops = {}
    for name, a in before.items():
        b = after.get(name)
        if a != b:
            ops[name] = "-" if b is None else "~"
    for name in after.keys() - before.keys():
        ops[name] = "+"
    return ops
