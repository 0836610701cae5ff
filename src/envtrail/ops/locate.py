"""Finding the store from the working folder (no pygit2, so fast paths can use it)."""

from __future__ import annotations

from pathlib import Path

from envtrail.errors import NotFoundError
from envtrail.gitstore.discover import find_store, is_store
from envtrail.runtime import Runtime


def locate(rt: Runtime, repo: Path | None = None) -> Path:
    """The store's root: --repo, ENVTRAIL_REPO, or walking up from the working folder."""
    start = repo or (Path(rt.env["ENVTRAIL_REPO"]) if rt.env.get("ENVTRAIL_REPO") else None)
    if start is not None:
        start = (rt.cwd / start).resolve()
        if not is_store(start):
            raise NotFoundError(f"{start} is not an envtrail store",
                                hint="run `envtrail init` there first")
        return start
    root = find_store(rt.cwd)
    if root is None:
        raise NotFoundError("not inside an envtrail store",
                            hint="run `envtrail init` in a Git repository, or pass --repo")
    return root
