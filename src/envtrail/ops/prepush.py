"""The pre-push check: a plain ``git push`` never sends a store line that does not verify,
nor takes the store branch or the events line back or away.

``envtrail sync`` pushes what it has verified itself (with git's hooks bypassed); this
check is for the pushes people make by hand, after a plain ``git pull --rebase`` that
re-made this clone's commits unsigned, say, or a force push of an older commit.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from envtrail.errors import EnvtrailError, IntegrityError
from envtrail.format.layout import CONFIG
from envtrail.gitstore.refs import EVENTS_REF, head_ref
from envtrail.gitstore.remote import seen_heads
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.hookfiles import Refusal, store_branch
from envtrail.runtime import Runtime

if TYPE_CHECKING:
    from envtrail.crypto.keys import Identity

# Every code push in an application repository runs this hook: the line, the verifier and
# the events checks are imported only where a push holds the store or the events line.

_OBJECT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def check_push(git: GitRepo, rt: Runtime, updates: str, remote_name: str | None = None,
               identity: Callable[[], Identity | None] = lambda: None,
               ) -> tuple[list[Refusal], tuple[str, ...]]:
    """Refusals for a push to ``remote_name``, from git's pre-push input (``local-ref
    local-id remote-ref remote-id`` per line, the local ref as typed): a commit that holds
    a store, pushed to a branch, must be on this clone's verified store line and must not
    take that branch back; where the store branch is gone from the remote, whatever the
    remote is called, only a verified line commit at or past every head this clone saw
    on any remote (the line head, where it saw none) goes there. The store branch and the events line are
    neither deleted nor rewound, nor is the store branch replaced by code, and a pushed
    events line must verify as sync judges one. Pushed, any of these would stop every
    other clone's reads or syncs, or hand a fresh clone an older line. Also what opening
    the line has to say (a genesis pinned on first use, to compare with the id `init`
    printed). ``identity`` gives the pusher's key, asked for only where the line is
    opened: walked with it, the line is judged as the pusher's reads judge it."""
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
                out.append(_events_rewind(where, local, remote, remote_name))
            elif store is not None:
                try:
                    line = line or open_line(git, rt, identity())
                    _events_verify(git, line.head, local)
                except EnvtrailError as exc:
                    out.append(Refusal(where, exc.message, "bring in what the remote has "
                                       "with `envtrail sync`, which checks and pushes "
                                       "this clone's events; see every finding with "
                                       "`envtrail verify`"))
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
            line = line or open_line(git, rt, identity())
            line.resolve(rt, local)
        except EnvtrailError as exc:
            out.append(Refusal(where, exc.message, _push_hint(git, typed, local)))
            continue
        names = tuple(dict.fromkeys((remote_ref[11:], *((store[11:],) if store else ()))))
        seen = _seen(git, names) if not remote.strip("0") else []
        if not remote.strip("0") and (remote_ref == store or seen):
            # attack24 U2: deleted by other means (a hosting site's button), the branch would
            # take an older line commit as if new. review15 R1: which remote the push goes
            # to cannot be told from a URL however spelt, so every head seen anywhere counts;
            # nor from the branch's name here or there (attack30 A4 `store:main`, attack31
            # B5 `main:envtrail`): the heads of both names count.
            newer = _seen_past(git, seen, local, line.head)
            if newer is not None:
                to = shlex.quote(remote_name) if remote_name else "<remote>"
                # attack27 P1: this clone's own line may be the one behind what it saw.
                hint = f"push the verified line head: `git push {to} " \
                       f"{line.head[:12]}:{remote_ref}`" \
                    if _seen_past(git, seen, line.head, line.head) is None else \
                    f"bring {newer[:10]} onto this clone's line first (`git merge --ff-only " \
                    f"{newer[:12]}` on {remote_ref[11:]}, then `envtrail verify`) and push that"
                out.append(Refusal(where, f"{remote_ref} is gone from the remote, and "
                                          f"{local[:10]} is behind {newer[:10]}, a head of it "
                                          "this clone has seen: the push would rewind or "
                                          "replace it", hint))
        elif remote.strip("0") and not _follows(git, local, remote):
            out.append(_rewind(where, remote_ref, local, remote, "store line"))
    return out, line.warnings if line is not None else ()


def _seen(git: GitRepo, branches: tuple[str, ...]) -> list[str]:
    """Every head of any of ``branches`` this clone saw on any remote."""
    return list(dict.fromkeys(h for b in branches for h in seen_heads(git, b)))


def _seen_past(git: GitRepo, seen: list[str], local: str, head: str | None) -> str | None:
    """What ``local`` would take a store branch the remote lost back from: None for a
    commit at or past every head in ``seen`` (heads this clone saw on any remote; the
    verified line head ``head`` included: it may be behind one, attack27 P1), or for
    ``head`` where this clone saw none; else the first head it does not follow (``head``
    itself where this clone saw none)."""
    if not seen:
        return None if local == head else head
    return next((s for s in seen if not _follows(git, local, s)), None)


def _events_verify(git: GitRepo, store_head: str | None, tip: str) -> None:
    """IntegrityError if the events line ending at ``tip`` does not verify as sync judges
    the remote's (review15 R2: pushed, it stopped every other clone's sync)."""
    from envtrail.ops.eventsync import findings

    found = findings(git, store_head, tip)
    if found:
        raise IntegrityError(f"the events line pushed does not verify: {found[0].line()}")


def _follows(git: GitRepo, local: str, remote: str) -> bool:
    """Whether ``remote`` is on ``local``'s first-parent line (a push that only adds)."""
    return git.has_commit(remote) and git.first_parents(local, remote)[1]


def _rewind(where: str, remote_ref: str, local: str, remote: str, line: str) -> Refusal:
    return Refusal(where, f"{remote_ref} is at {remote[:10]}, which {local[:10]} does not "
                          f"follow on the {line}: the push would rewind or replace it",
                   "bring in what the remote has with `envtrail sync`, which also pushes")


def _events_rewind(where: str, local: str, remote: str, remote_name: str | None) -> Refusal:
    """A rewind of the events line, refused with both ways on: sync, or, where sync finds
    the remote's line does not verify (pushed past this hook, it stops every clone's
    sync, and sync's own push cannot take it back), a reviewed push of this clone's."""
    to = shlex.quote(remote_name) if remote_name else "<remote>"
    refusal = _rewind(where, EVENTS_REF, local, remote, "events line")
    return Refusal(refusal.path, refusal.reason,
                   f"{refusal.instead}; if sync refuses the remote's events line as one that "
                   "does not verify, review it, then put back this clone's with `git push "
                   f"--no-verify --force-with-lease={EVENTS_REF}:{remote} {to} "
                   f"{local}:{EVENTS_REF}`")


def _push_hint(git: GitRepo, typed: str, local: str) -> str:
    """The way back for a refused push: the command that puts the pushed branch back on
    the last verified head (review14 B2: a reset moves the checked-out branch, the code
    branch in an application repository, so another branch is moved by name);
    never the reads' ``--no-verify``, which a pusher would read as git's bypass."""
    from envtrail.audit import checkpoint

    cp = checkpoint.load(git.root)
    back, checked_out = "", head_ref(git.root)
    # review15 B10: git names the local side `HEAD` for `git push origin HEAD`,
    # `HEAD:main` and `@`: that is the checked-out branch (none where HEAD is detached).
    typed = (checked_out or "") if typed == "HEAD" else typed
    if cp is not None and cp.head != local and typed.startswith("refs/heads/") \
            and git.has_commit(cp.head):
        branch = typed.removeprefix("refs/heads/")
        command = f"git reset --keep {cp.head[:12]}" if typed == checked_out else \
            f"git branch -f {shlex.quote(branch)} {cp.head[:12]}"
        back = f"`{command}` puts {branch} back on the verified line; "
    return back + "see every finding with `envtrail verify`, and push the store with " \
                  "`envtrail sync`"
