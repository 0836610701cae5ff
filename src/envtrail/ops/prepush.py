"""The pre-push check: a plain ``git push`` never sends a store line that does not verify,
nor takes the store branch or the events line back or away.

``envtrail sync`` pushes what it has verified itself (with git's hooks bypassed); this
check is for the pushes people make by hand, after a plain ``git pull --rebase`` that
re-made this clone's commits unsigned, say, or a force push of an older commit.
"""

from __future__ import annotations

import re
import shlex

from envtrail.audit.eventline import EVENTS_REF
from envtrail.errors import EnvtrailError
from envtrail.format.layout import CONFIG
from envtrail.gitstore.refs import head_ref
from envtrail.gitstore.remote import Upstream, last_seen
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.hook import Refusal, store_branch
from envtrail.runtime import Runtime

_OBJECT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def check_push(git: GitRepo, rt: Runtime, updates: str,
               remote_name: str | None = None) -> tuple[list[Refusal], tuple[str, ...]]:
    """Refusals for a push to ``remote_name``, from git's pre-push input (``local-ref
    local-id remote-ref remote-id`` per line, the local ref as typed): a commit that holds
    a store, pushed to a branch, must be on this clone's verified store line and must not
    take that branch back, not even where the branch is gone from the remote (then from
    the head this clone last saw there); the store branch and the events line are
    neither deleted nor rewound, nor is the store branch replaced by code. Pushed, any
    of these would stop every other clone's reads or syncs, or hand a fresh clone an
    older line. Also what opening the line has to say (a genesis pinned on first use, to
    compare with the id `init` printed)."""
    from envtrail.ops.gate import open_line

    out: list[Refusal] = []
    line = None  # opened at most once: several refs may hold the store
    store = store_branch(git, git.head())
    for row in updates.splitlines():
        if not row.strip():
            continue  # git runs the hook with no input when there is nothing to send
        fields = row.rsplit(" ", 3)  # ref names hold no spaces; what was typed may
        if len(fields) != 4 or not all(_OBJECT.fullmatch(f) for f in fields[1::2]):
            out.append(Refusal("(push)", "git's pre-push input is not 'local-ref local-id "
                                         "remote-ref remote-id'", "push with git itself"))
            continue
        typed, local, remote_ref, remote = fields
        where = f"(push to {remote_ref})"
        if not local.strip("0"):
            if remote_ref in (store, EVENTS_REF):
                out.append(Refusal(where, f"deleting {remote_ref} would take the store's "
                                          "record away from every clone's reads and syncs",
                                   "leave it on the remote"))
            continue
        if remote_ref == EVENTS_REF:
            if remote.strip("0") and not _follows(git, local, remote):
                out.append(_rewind(where, remote_ref, local, remote, "events line"))
            continue
        if not remote_ref.startswith("refs/heads/"):
            continue  # a tag, or a ref envtrail's sync keeps
        try:
            if git.entry_id(local, CONFIG) is None:
                known = bool(remote.strip("0")) and git.has_commit(remote)
                if (known and git.entry_id(remote, CONFIG) is not None) or remote_ref == store:
                    # attack23 T4: code over the store line would wipe it for every clone.
                    out.append(Refusal(where, f"{remote_ref} holds the store line; "
                                              f"{local[:10]} holds no store and would replace "
                                              "it", "push code to another branch"))
                continue  # a code branch: the pre-commit hook keeps the store off it
            line = line or open_line(git, rt)
            line.resolve(rt, local)
        except EnvtrailError as exc:
            out.append(Refusal(where, exc.message, _push_hint(git, typed, local)))
            continue
        if not remote.strip("0") and remote_ref == store and remote_name:
            # attack24 U2: deleted by other means (a hosting site's button), the branch
            # would take an older line commit as if new.
            remote = next((seen for name in _remotes_called(git, remote_name)
                           if (seen := last_seen(git.root, Upstream(name, remote_ref[11:])))),
                          remote)
        if remote.strip("0") and not _follows(git, local, remote):
            out.append(_rewind(where, remote_ref, local, remote, "store line"))
    return out, line.warnings if line is not None else ()


def _remotes_called(git: GitRepo, name: str) -> list[str]:
    """The remotes ``name`` stands for: itself, or those whose URL it is (git passes the URL
    as the name when a push names no remote: attack25 V5)."""
    if git.config_get(f"remote.{name}.url") is not None:
        return [name]
    return [entry.name[len("remote."):-len(".url")] for entry in git.repo.config
            if entry.name.startswith("remote.") and entry.name.endswith(".url")
            and entry.value == name]


def _follows(git: GitRepo, local: str, remote: str) -> bool:
    """Whether ``remote`` is on ``local``'s first-parent line (a push that only adds)."""
    return git.has_commit(remote) and git.first_parents(local, remote)[1]


def _rewind(where: str, remote_ref: str, local: str, remote: str, line: str) -> Refusal:
    return Refusal(where, f"{remote_ref} is at {remote[:10]}, which {local[:10]} does not "
                          f"follow on the {line}: the push would rewind or replace it",
                   "bring in what the remote has with `envtrail sync`, which also pushes")


def _push_hint(git: GitRepo, typed: str, local: str) -> str:
    """The way back for a refused push: the command that puts the pushed branch back on
    the last verified head (review14 B2: a reset moves the checked-out branch, the code
    branch in an application repository, so another branch is moved by name);
    never the reads' ``--no-verify``, which a pusher would read as git's bypass."""
    from envtrail.audit import checkpoint

    cp = checkpoint.load(git.root)
    back = ""
    if cp is not None and cp.head != local and typed.startswith("refs/heads/") \
            and git.has_commit(cp.head):
        branch = typed.removeprefix("refs/heads/")
        command = f"git reset --keep {cp.head[:12]}" if typed == head_ref(git.root) else \
            f"git branch -f {shlex.quote(branch)} {cp.head[:12]}"
        back = f"`{command}` puts {branch} back on the verified line; "
    return back + "see every finding with `envtrail verify`, and push the store with " \
                  "`envtrail sync`"
