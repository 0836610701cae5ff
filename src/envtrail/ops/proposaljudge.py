"""Whether a proposal ref may be served: judged over the store line ``sync`` pushes.

Anyone who can push can put anything on a proposal ref, so every tip is
judged before it is taken or pushed: a proposal id, one proposed change on a
line commit no repair acknowledged, each commit signed by a key the line
allowed when it was signed, nothing but approvals of it on top, and every rule
but rule 9 holding. Approvals that do not count are cut off, not fatal.
"""

from __future__ import annotations

from envtrail.audit import checkpoint, signature
from envtrail.audit.approvals import approves
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.view import LineStates, StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import EnvtrailError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.proposal import walk_on_base
from envtrail.ops.routing import chain_of
from envtrail.runtime import Runtime


class ProposalJudge:
    """Whether a proposal ref verifies over the line being pushed (memoised per tip)."""

    def __init__(self, git: GitRepo, rt: Runtime, identity: Identity, head: str) -> None:
        self.git, self.rt, self.identity, self.head = git, rt, identity, head
        self.view = StoreView(git)
        self._seen: dict[str, str | None] = {}
        # tip -> the last commit of its chain before an approval that does not count
        # (anyone who signs can add one, and apply would stop at it for good).
        self._counted: dict[str, tuple[str, str]] = {}
        # ``head`` was verified before proposals are looked at, so the checkpoint says
        # which of its states stand only because a repair acknowledged them.
        self.tainted = checkpoint.load_tainted(git.root)
        self._line: LineStates | None = None  # read once, when a proposal needs it

    def refusal(self, pid: str, tip: str) -> str | None:
        """Why the proposal ending at ``tip`` is not one envtrail may serve, or None."""
        if tip not in self._seen:
            try:
                self._seen[tip] = self._judge(pid, tip)
            except (EnvtrailError, KeyError, ValueError) as exc:
                self._seen[tip] = getattr(exc, "message", None) or "it cannot be read"
        return self._seen[tip]

    def counted(self, pid: str, tip: str) -> tuple[str, str]:
        """(the tip of the proposal's chain up to its first approval that does not count,
        why that one does not), or (``tip``, "") when every approval counts; for a tip
        that :meth:`refusal` passed."""
        self.refusal(pid, tip)
        return self._counted.get(tip, (tip, ""))

    def author_gone(self, pid: str, tip: str) -> str | None:
        """Why a proposal new here is not taken though it verifies: its author's key is
        closed at the line head. Dated before the revocation it verifies, made then or
        backdated (attack26 R1b); either way only its author could re-make it."""
        root = self.git.info(chain_of(self.git, tip, pid)[0])  # type: ignore[index]
        key = signature.check(self.view, root).key
        if any(s.key == key and s.valid_before is None for s in self.view.signers(self.head)):
            return None
        return "its author's key is closed on the store line since (revoked): it could " \
               "never be re-made or applied"

    def _states(self) -> LineStates:
        if self._line is None:
            self._line = LineStates(self.view, self.git.oldest_first(self.head))
        return self._line

    def on_line(self, commit: str) -> bool:
        """Whether ``commit`` is on the store line being pushed."""
        git = self.git
        return git.has_commit(commit) and git.first_parents(self.head, commit)[1]

    def applied(self, pid: str, tip: str) -> bool:
        """Whether the proposal ending at ``tip`` is on the store line already."""
        try:  # a ref anyone pushed: whatever it holds, it is judged, never fatal
            chain = chain_of(self.git, tip, pid) if len(pid) == 12 else None
        except (EnvtrailError, KeyError, ValueError):
            return False
        return chain is not None and self.git.is_ancestor(chain[0], self.head)

    def _judge(self, pid: str, tip: str) -> str | None:
        git = self.git
        if len(pid) != 12 or not set(pid) <= set("0123456789abcdef"):
            return "its name is no proposal id"
        chain = chain_of(git, tip, pid)
        if chain is None:
            return "no proposal commit under its approvals"
        root = git.info(chain[0])
        rec = parse_record(root)
        if rec is None or rec.action in ("approve", "event") or len(root.parents) != 1:
            return "its first commit is no proposed change"
        if not self.on_line(root.parents[0]):
            return "it is not based on a commit of the store line"
        if root.parents[0] in self.tainted:
            return "it is based on a state a repair acknowledged as a finding"
        for commit in chain:
            # Judged at the line state current when it was signed, as events are: a key
            # revoked since the proposal's base cannot sign on that old base.
            info = git.info(commit)
            state = self._states().current_at(info.committer_time, root.parents[0])
            verdict = signature.check(self.view, info, trust_at=state)
            if verdict.status == signature.EXPIRED:
                return f"{commit[:10]} is signed with a key the line had revoked by then"
            if not verdict.good:
                return f"{commit[:10]} is not signed by a key the line allowed then " \
                       f"({verdict.status})"
        for commit in chain[1:]:
            a = parse_record(git.info(commit))
            if a is None or approves(a) != chain[0]:
                return f"{commit[:10]} on top of it is no approval of it"
        report = walk_on_base(self.view, tip, root.parents[0], Keyring(self.identity),
                              self.rt.now(), floor=git.info(root.parents[0]).committer_time)
        # Rule 9 speaks of approvals still missing (what a proposal is for), or of one that
        # does not count, which the chain is cut before; every other rule must hold.
        bad = [f for f in report.findings if f.rule != 9]
        if bad:
            return bad[0].line()
        junk = sorted((chain.index(f.commit), f.message) for f in report.findings
                      if f.commit in chain[1:])
        if junk:
            self._counted[tip] = (chain[junk[0][0] - 1], junk[0][1])
        return None
