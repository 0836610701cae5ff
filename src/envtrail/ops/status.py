"""``status``: what is set up in this clone, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from envtrail.audit import checkpoint
from envtrail.audit.acknowledgements import Acknowledgement, marks
from envtrail.audit.breakglass import Glass
from envtrail.audit.ledger import unreviewed_on_line
from envtrail.audit.line import Swept
from envtrail.audit.view import Snapshot, StoreView
from envtrail.errors import EnvtrailError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import identity as identities
from envtrail.ops.hookfiles import hook_paths, is_ours, runs_envtrail
from envtrail.ops.setup import wanted_config_missing
from envtrail.ops.trust import trust_roots
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Unreviewed:
    """A break-glass commit still waiting for its retroactive approvals, in one environment."""

    environment: str
    commit: str
    author: str
    time: datetime
    approved_by: tuple[str, ...]
    needed: int
    due: datetime  # when it turns (or turned) overdue
    overdue: bool

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"environment": self.environment, "commit": self.commit, "author": self.author,
                "time": self.time.isoformat(), "approvals": len(self.approved_by),
                "needed": self.needed, "approved_by": list(self.approved_by),
                "due": self.due.isoformat(), "overdue": self.overdue}


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
    break_glass: list[Unreviewed] = field(default_factory=list)  # by environment, then time
    next_steps: list[str] = field(default_factory=list)
    # Findings a repair on the verified line acknowledged, oldest commit first.
    acknowledged: list[Acknowledgement] = field(default_factory=list)
    # Honest commits whose value changes a repair on it undid, oldest first.
    swept: list[Swept] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The JSON form (``acknowledged``: one object per finding, and ``swept``: one
        per swept commit, as ``verify`` names them)."""
        return {**self.__dict__, "break_glass": [u.as_dict() for u in self.break_glass],
                "acknowledged": [f for a in self.acknowledged for f in a.findings()],
                "swept": [s.as_dict() for s in self.swept]}


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
    if cp is not None:
        _repaired(git, cp, st)
    if cp is None:
        st.next_steps.append("run `envtrail verify` to check the history")
    elif cp.refused is not None:
        # The checkpoint's head may still be the line head: what a verify found below it
        # (or with a key) is what every read now refuses on, and status must say so too.
        st.verified = f"NO: {cp.refused} (reads refuse until it is repaired)"
        st.next_steps.append("run `envtrail verify` for every finding; an admin settles "
                             "them with `envtrail repair`")
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
    _break_glass(git, rt, st)
    _hooks(git, rt, st)
    return st


def _hooks(git: GitRepo, rt: Runtime, st: Status) -> None:
    """Whether git runs envtrail's checks, read where git runs hooks from, and what to do
    where it does not (never `hook install` where install would leave the hook alone)."""
    paths = hook_paths(git, rt.home)
    if paths is None:
        st.next_steps.append("core.hooksPath is set empty, so git runs no hooks here: unset "
                             "it (`git config --unset core.hooksPath`) and run `envtrail hook "
                             "install`")
        return
    found = {path.name: path for path in paths}
    commit, push = found["pre-commit"], found["pre-push"]
    st.hook_installed = runs_envtrail(commit, git.root)
    if not st.hook_installed:
        st.next_steps.append(
            f"add envtrail's commit check to {commit}, another tool's hook, as `envtrail hook "
            "install` says" if commit.exists() else
            "run `envtrail hook install` (or add envtrail to pre-commit)")
    if runs_envtrail(push):
        return
    if push.exists():
        # install never replaces another tool's pre-push: asking for it again would not help.
        st.next_steps.append(f"add the line `envtrail hook install` prints to {push}, so "
                             "pushes of a store line that does not verify are refused")
    elif is_ours(commit):
        st.next_steps.append("run `envtrail hook install` again: it also writes a pre-push "
                             "hook now, which refuses pushes of a store line that does not "
                             "verify")
    elif commit.exists():
        st.next_steps.append(f"run `envtrail hook install`: it writes the pre-push hook, which "
                             "refuses pushes of a store line that does not verify, and leaves "
                             f"{commit} alone")


def _repaired(git: GitRepo, cp: checkpoint.Checkpoint, st: Status) -> None:
    """What the repairs on the line this clone verified acknowledged, and which honest
    commits they swept (DESIGN: status always shows it, with the admin and the reason)."""
    try:
        found = marks(StoreView(git), cp.head, cp.tainted)
    except (EnvtrailError, KeyError):
        return  # a line that cannot be read: `verify` says why; status reports the rest
    st.acknowledged = list(reversed(found.acknowledged.values()))
    st.swept = list(reversed(found.swept.values()))


def _break_glass(git: GitRepo, rt: Runtime, st: Status) -> None:
    """List the break-glass changes still short of approvals, per environment."""
    try:
        glass = unreviewed_on_line(StoreView(git), st.head)
    except (EnvtrailError, KeyError):
        return  # a line that cannot be read: `verify` says why; status reports the rest
    now = rt.now()
    st.break_glass = sorted((_unreviewed(g, env, now) for g in glass
                             for env in g.need.environments or ("store",)),
                            key=lambda u: (u.environment, u.time))
    for g in glass:
        late = "overdue" if g.overdue(now) else "due"
        st.next_steps.append(
            f"break-glass {g.need.commit[:10]} by {g.need.author} is {late} for review: "
            f"another approver runs `envtrail approve {g.need.commit[:12]} --reason ...`")


def _unreviewed(g: Glass, environment: str, now: datetime) -> Unreviewed:
    return Unreviewed(environment, g.need.commit, g.need.author, g.need.time,
                      tuple(g.approved_by), g.need.needed, g.due, g.overdue(now))
