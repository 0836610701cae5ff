"""Whether the store line verifies, said rather than refused: for ``proposals`` and ``review``.

A proposal sits on a line head; approving it or applying it goes through the verified
gate and refuses (exit 5) on a line that does not verify, unless it is a repair, the one
change that settles findings. Listing and reviewing stay possible there (a proposed
repair has to be reviewed on exactly such a line), so they say how the line stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit import checkpoint
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.gate import open_line
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Standing:
    """The store line's head and whether it verifies; ``problem`` says why not.
    ``unchecked``: environments where the reader holds a seat their key does not open,
    which no key on this clone checked: verifying there was keyless."""

    head: str | None
    verifies: bool
    problem: str | None = None
    unchecked: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"head": self.head, "verifies": self.verifies, "problem": self.problem,
                "unchecked": list(self.unchecked)}


def standing(git: GitRepo, rt: Runtime, identity: Identity | None) -> Standing:
    """Check the line through the gate (with ``identity``'s key where it has one), and
    say whether it verifies instead of refusing."""
    head = git.store_head()
    cp = checkpoint.load(git.root)
    if cp is not None and cp.refused is not None and cp.head == head:
        # Nothing new since a whole verify found it: the mark is the answer, no walk.
        return Standing(head, False, cp.refused)
    try:
        line = open_line(git, rt, identity, allow_findings=True)
    except IntegrityError as exc:  # a rewrite of what this clone verified, a CI without a root
        return Standing(head, False, exc.message)
    if line.report is not None and line.report.findings:
        return Standing(line.head, False, line.report.findings[0].line())
    cp = checkpoint.load(git.root)
    if cp is not None and cp.refused is not None:  # a mark this walk could not lift
        return Standing(line.head, False, cp.refused)
    return Standing(line.head, True, unchecked=line.unopened(identity))
