"""The store's files at any commit, each distinct blob parsed at most once per run."""

from __future__ import annotations

from collections import OrderedDict

from envtrail.errors import IntegrityError
from envtrail.format import envfile, policy, signers
from envtrail.format.envfile import EnvFile
from envtrail.format.policy import Policy
from envtrail.format.signers import Signer
from envtrail.gitstore.repo import GitRepo

SIGNERS = ".envtrail/allowed_signers"
POLICY = ".envtrail/policy.yaml"
CONFIG = ".envtrail/config.yaml"
STORE_PATHS = ("envs", ".envtrail")


class StoreView:
    """Parsed store files by commit, memoised by blob id (history shares most blobs)."""

    # Walks visit a commit right after its child, so a short memory is enough
    # and keeps memory flat however long the history is.
    ENV_CACHE = 64

    def __init__(self, git: GitRepo) -> None:
        self.git = git
        self._envs: OrderedDict[str, EnvFile | IntegrityError] = OrderedDict()
        self._signers: dict[str | None, list[Signer]] = {}
        self._policies: dict[str | None, Policy] = {}
        self._env_blobs: OrderedDict[str | None, dict[str, str]] = OrderedDict()

    def env_blobs(self, commit: str | None) -> dict[str, str]:
        """Environment name -> blob id at a commit."""
        blobs = self._env_blobs.get(commit)
        if blobs is None:
            blobs = envfile.by_environment(self.git.dir_entries(commit, envfile.FOLDER))
            self._env_blobs[commit] = blobs
            if len(self._env_blobs) > self.ENV_CACHE:
                self._env_blobs.popitem(last=False)
        return blobs

    def env_file(self, blob_id: str, environment: str) -> EnvFile:
        """The parsed environment file in ``blob_id``; IntegrityError if malformed."""
        cached = self._envs.get(blob_id)
        if cached is not None:
            self._envs.move_to_end(blob_id)
        else:
            path = envfile.path_for(environment)
            try:
                cached = envfile.parse(self.git.blob(blob_id), path)
                if cached.environment != environment:
                    raise IntegrityError(f"{path} says it is environment {cached.environment!r}")
            except IntegrityError as exc:
                cached = exc
            self._envs[blob_id] = cached
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
        """allowed_signers at a commit (empty if absent)."""
        blob = self.git.entry_id(commit, SIGNERS)
        if blob not in self._signers:
            self._signers[blob] = [] if blob is None else signers.parse(self.git.blob(blob))
        return self._signers[blob]

    def policy(self, commit: str | None) -> Policy:
        """policy.yaml at a commit (defaults if absent)."""
        blob = self.git.entry_id(commit, POLICY)
        if blob not in self._policies:
            self._policies[blob] = (policy.Policy() if blob is None
                                    else policy.parse(self.git.blob(blob)))
        return self._policies[blob]


def value_diff(old: EnvFile | None, new: EnvFile | None) -> dict[str, str]:
    """Variable -> '+', '-' or '~' for every ciphertext that differs (no key needed)."""
    before = dict(old.values) if old else {}
    after = dict(new.values) if new else {}
    ops = {}
    for name in before.keys() | after.keys():
        a, b = before.get(name), after.get(name)
        if a != b:
            ops[name] = "+" if a is None else "-" if b is None else "~"
    return ops
