"""What a merge commit's environment file holds that neither parent had.

envtrail never merges (``sync`` replays instead), and a merge on the store
line is a finding in itself; this only lets ``verify`` say what a merge
smuggled in. Pure data: no keys needed.
"""

from __future__ import annotations

from envtrail.format.envfile import EnvFile


def merge_problems(mine: EnvFile, parents: list[EnvFile | None]) -> list[str]:
    """What a merge result holds that none of its parents had (rule 6), as sentences."""
    problems = []
    env = mine.environment
    for name in sorted(_all_names(mine, *parents)):
        state = mine.values.get(name)
        if all((p.values.get(name) if p else None) != state for p in parents):
            problems.append(f"{env}: merge introduces a value of {name} that is in neither parent")
    if all(_keying(p) != _keying(mine) for p in parents):
        problems.append(f"{env}: merge changes members or keys beyond both parents")
    return problems


def _keying(env: EnvFile | None) -> tuple:
    if env is None:
        return ()
    return (env.public_key, tuple(sorted((p, m.key, m.sealed) for p, m in env.members.items())))


def _all_names(*envs: EnvFile | None) -> set[str]:
    return {n for e in envs if e is not None for n in e.values}
