"""A store and a snapshot of it at one commit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, IntegrityError, NotFoundError
from envtrail.format import envfile, policy, signers
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name
from envtrail.ops.timespec import looks_like_time, parse_time
from envtrail.runtime import Runtime

CONFIG = ".envtrail/config.yaml"
SIGNERS = ".envtrail/allowed_signers"
POLICY = ".envtrail/policy.yaml"
ATTRIBUTES = ".gitattributes"
ATTRIBUTES_LINE = "envs/*.yaml merge=envtrail"


class Snapshot:
    """The store's files as of one commit (None: an empty repository)."""

    def __init__(self, git: GitRepo, commit: str | None) -> None:
        self.git = git
        self.commit = commit

    def read(self, path: str) -> bytes | None:
        """Raw content of a file at this commit."""
        return self.git.read(self.commit, path)

    def has_store(self) -> bool:
        """Whether this commit contains an envtrail store."""
        return self.git.entry_id(self.commit, CONFIG) is not None

    def environments(self) -> list[str]:
        """Names of the environments in ``envs/``."""
        return sorted(n[:-5] for n in self.git.list_dir(self.commit, "envs") if n.endswith(".yaml"))

    def env(self, name: str) -> EnvFile:
        """One environment file, parsed (NotFoundError if absent)."""
        check_env_name(name)
        path = envfile.path_for(name)
        data = self.read(path)
        if data is None:
            raise NotFoundError(f"no environment {name!r}",
                                hint="list them with `envtrail env list`")
        parsed = envfile.parse(data, path)
        if parsed.environment != name:
            raise IntegrityError(f"{path} says it is environment {parsed.environment!r}")
        return parsed

    @cached_property
    def signers(self) -> list[signers.Signer]:
        """The allowed signers at this commit."""
        data = self.read(SIGNERS)
        return signers.parse(data) if data is not None else []

    @cached_property
    def policy(self) -> policy.Policy:
        """The policy at this commit (defaults if the file is absent)."""
        data = self.read(POLICY)
        return policy.parse(data) if data is not None else policy.Policy()


@dataclass(frozen=True)
class Acting:
    """The caller as the store knows them: identity plus allowed-signer entry."""

    identity: Identity
    signer: signers.Signer

    @property
    def principal(self) -> str:
        """The principal bound to the caller's key."""
        return self.signer.principal


def whoami(snap: Snapshot, identity: Identity, rt: Runtime) -> Acting:
    """The caller's allowed-signer entry; AccessDenied if the key may not sign now."""
    key = identity.public.openssh
    now = rt.now()
    for s in snap.signers:
        if s.key == key:
            if not s.valid_at(now):
                raise AccessDenied(f"{s.principal}'s key is no longer an allowed signer here")
            return Acting(identity, s)
    raise AccessDenied(
        "your key is not an allowed signer of this store",
        hint="ask an admin to run `envtrail access grant` with your `envtrail identity show` line",
    )


def resolve_at(git: GitRepo, rt: Runtime, at: str | None) -> str:
    """The commit for ``--at REV|TIME`` (HEAD if None)."""
    if at is None:
        head = git.head()
        if head is None:
            raise NotFoundError("the store has no commits yet")
        return head
    if looks_like_time(at):
        when = parse_time(at, rt.now())
        return git.commit_at(when)
    return git.resolve(at)
