"""``status``: what is set up in this clone, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envtrail.audit import checkpoint
from envtrail.audit.view import Snapshot
from envtrail.errors import EnvtrailError
from envtrail.gitstore.discover import git_dir
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import identity as identities
from envtrail.ops.hook import MARKER
from envtrail.ops.setup import wanted_config_missing
from envtrail.ops.trust import trust_roots
from envtrail.runtime import Runtime


@dataclass
class Status:
    """Everything ``envtrail status`` reports."""

    store: str
    head: str | None
    identity: str | None = None
    principal: str | None = None
    admin: bool = False
    readable: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    verified: str = "never"
    branch: str = ""
    pin: str | None = None
    trust_roots: list[str] = field(default_factory=list)
    missing_config: list[str] = field(default_factory=list)
    hook_installed: bool = False
    next_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return dict(self.__dict__)


def status(git: GitRepo, rt: Runtime, explicit_identity: Path | None) -> Status:
    """Inspect the store, the identity in use, verification and the clone's config."""
    head = git.store_head()
    snap = Snapshot(git, head)
    st = Status(str(git.root), head, environments=snap.environments(),
                branch=git.store_ref(), pin=checkpoint.load_pin(git.root),
                trust_roots=sorted(trust_roots(rt)))
    try:
        loaded = identities.load(rt, explicit_identity)
    except EnvtrailError as exc:
        st.next_steps.append(f"identity: {exc.message}; "
                             "run `envtrail identity new --principal you@example.com`")
    else:
        st.identity = loaded.source
        key = loaded.identity.public.openssh
        signer = next((s for s in snap.signers if s.key == key), None)
        if signer is None:
            st.next_steps.append("ask an admin to run `envtrail access grant <you> '<your "
                                 "`envtrail identity show` line>' --env <env> --reason ...`")
        else:
            st.principal, st.admin = signer.principal, signer.admin
        for env in st.environments:
            try:
                if snap.env(env).member_with_key(key):
                    st.readable.append(env)
            except EnvtrailError:
                continue
    for env in st.environments:
        try:
            old_format = snap.env(env).version == 1
        except EnvtrailError:
            continue
        if old_format:
            st.next_steps.append(f"{env} is still in format 1 (short fingerprints, unpadded "
                                 f"values): `envtrail access rotate --env {env} --reason ...` "
                                 "upgrades it")
    cp = checkpoint.load(git.root)
    if cp is None:
        st.next_steps.append("run `envtrail verify` to check the history")
    elif head is not None and cp.head == head:
        st.verified = "up to the line head"
    elif head is not None and git.first_parents(head, cp.head)[1]:
        st.verified = f"up to {cp.head[:10]} (newer commits are checked on the next read)"
    else:
        st.verified = "NO: the last verified head is no longer on the line (history rewritten)"
        st.next_steps.append("run `envtrail verify`; after review, `envtrail verify "
                             "--accept-rewrite`")
    st.missing_config = wanted_config_missing(git)
    if st.missing_config:
        st.next_steps.append("run `envtrail init` to configure this clone "
                             f"({', '.join(st.missing_config)})")
    hooks = git.config_get("core.hooksPath")
    hook = (git.root / hooks if hooks else git_dir(git.root) / "hooks") / "pre-commit"
    st.hook_installed = hook.is_file() and MARKER in hook.read_text(errors="replace")
    if not st.hook_installed:
        st.next_steps.append("run `envtrail hook install` (or add envtrail to pre-commit)")
    return st
