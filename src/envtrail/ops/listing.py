"""``list``: variable names with their last change, from history alone (no key)."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.history import last_changes
from envtrail.errors import NotFoundError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.store import Snapshot


@dataclass(frozen=True)
class VariableRow:
    """One variable as ``list`` shows it."""

    key: str
    time: str
    actor: str
    commit: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"key": self.key, "time": self.time, "actor": self.actor, "commit": self.commit}


def list_variables(git: GitRepo, environment: str) -> list[VariableRow]:
    """Every variable of ``environment`` at HEAD with the commit that last changed it."""
    head = git.head()
    if head is None:
        raise NotFoundError("the store has no commits yet")
    names = sorted(Snapshot(git, head).env(environment).values)
    last = last_changes(git, head, environment)
    rows = []
    for name in names:
        change = last.get(name)
        if change is None:
            rows.append(VariableRow(name, "-", "-", "-"))
            continue
        actor = change.record.actor if change.record else f"(unattested) {change.commit.author_name}"
        rows.append(VariableRow(name, change.commit.committer_time.isoformat(), actor,
                                change.commit.id))
    return rows
