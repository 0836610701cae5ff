"""envtrail benchmark: whole-process timings (medians) and peak memory.

Builds its own fixtures under bench/.work/ (reused between runs), then times
each operation as a user runs it: a fresh `envtrail` process. Uses only
Python's time.perf_counter and /usr/bin/time -v (GNU time) for peak RSS.

    python bench/bench.py                 # everything, 10,000-commit history
    python bench/bench.py --commits 2000  # a smaller history
    python bench/bench.py --only history,timeline

See bench/README.md for the latest figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import verify_floor  # bench/, beside this script

from envtrail.crypto.keys import Identity
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret
from envtrail.ops import setup, values
from envtrail.runtime import Runtime

WORK = Path(__file__).resolve().parent / ".work"
GNU_TIME = Path("/usr/bin/time")
ENVTRAIL = [sys.executable, "-m", "envtrail"]


def clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that advances one second per call, so history times are strictly increasing."""
    state = {"t": start}

    def tick() -> datetime:
        state["t"] += timedelta(seconds=1)
        return state["t"]

    return tick


KEY = WORK / "alice.key"
BOB_KEY = WORK / "bob.key"


def fixture(name: str, envs: list[str],
            fill: Callable[[GitRepo, Runtime, Identity], None]) -> Path:
    """A store under bench/.work/NAME made once by ``fill`` (reused while complete)."""
    root = WORK / name
    done = root / ".git/envtrail/bench-complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ident = _identity(KEY)
    rt = Runtime(env={}, cwd=root, home=root, host="bench",
                 clock=clock_from(datetime(2025, 1, 1, tzinfo=UTC)))
    # A repository of its own first: init would otherwise adopt an enclosing one.
    GitRepo.init(root)
    assert setup.init(rt, ident, envs).root.resolve() == root.resolve()
    fill(GitRepo(root), rt, ident)
    # envtrail starts `git gc --auto` in the background as loose objects pile
    # up; pack fully here so every run measures the same repository.
    subprocess.run(["git", "gc", "--quiet"], cwd=root, check=True)
    done.write_text("ok")
    return root


def build_history(commits: int) -> tuple[Path, Path]:
    """A store with ``commits`` signed commits on one 20-variable environment."""

    def fill(git: GitRepo, rt: Runtime, ident: Identity) -> None:
        started = time.perf_counter()
        for i in range(commits - 1):
            values.write_values(git, rt, ident, "production",
                                {f"VAR_{i % 20:02d}": Secret(f"value-{i}")}, set(),
                                f"bench change {i}", "set")
            if i and i % 1000 == 0:
                rate = i / (time.perf_counter() - started)
                print(f"  built {i} commits ({rate:.0f}/s)", file=sys.stderr)

    return fixture(f"history-{commits}", ["production"], fill), KEY


def build_timeline(commits: int) -> tuple[Path, Path]:
    """A line of about ``commits`` commits where production needs one approval: two thirds
    of the changes proposed, approved by bob and applied, one third landed with
    --break-glass and approved afterwards, and a deploy event every tenth change."""
    from envtrail.ops import access, approvals, events, policy
    from envtrail.ops.routing import Route

    bob = _identity(BOB_KEY, "bob@example.com")

    def fill(git: GitRepo, rt: Runtime, ident: Identity) -> None:
        access.grant(git, rt, ident, "bob@example.com", bob.public, "production", "bench: bob")
        policy.set_rule(git, rt, ident, "production", {"approvals": 1}, "bench: one approval")
        started, change = time.perf_counter(), 0
        on_line = len(git.first_parents(git.store_head() or "")[0])
        while on_line < commits:  # each change puts two commits on the line: it and its approval
            update = {f"VAR_{change % 20:02d}": Secret(f"value-{change}")}
            if change % 3 == 2:
                done = values.write_values(git, rt, ident, "production", update, set(),
                                           f"bench incident {change}", "set",
                                           Route(break_glass=True))
                approvals.approve(git, rt, bob, done.commit or "", "bench: reviewed")
            else:
                proposed = values.write_values(git, rt, ident, "production", update, set(),
                                               f"bench change {change}", "set",
                                               Route(propose=True))
                approvals.approve(git, rt, bob, proposed.proposal or "", "bench: approved")
                approvals.apply(git, rt, ident, proposed.proposal or "")
            if change % 10 == 0:
                events.record_event(git, rt, ident, "deploy", "production", f"deploy {change}")
            change, on_line = change + 1, on_line + 2
            if change % 500 == 0:
                rate = change / (time.perf_counter() - started)
                print(f"  built {change} changes ({rate:.0f}/s)", file=sys.stderr)

    return fixture(f"timeline-{commits}", ["production"], fill), KEY


def small_store(name: str, envs: int, variables: int) -> tuple[Path, Path]:
    """A store with ``envs`` environments of ``variables`` variables each."""
    names = ["production"] + [f"env{i:02d}" for i in range(1, envs)]

    def fill(git: GitRepo, rt: Runtime, ident: Identity) -> None:
        for env in names:
            values.write_values(git, rt, ident, env,
                                {f"VAR_{i:05d}": Secret(f"value-{i}-" + "x" * 40)
                                 for i in range(variables)}, set(), "bench fixture", "import")

    return fixture(name, names, fill), KEY


def _identity(key: Path, name: str = "alice@example.com") -> Identity:
    if key.exists():
        return Identity.from_openssh(key.read_text())
    ident = Identity.generate(name)
    key.write_text(ident.to_openssh())
    key.chmod(0o600)
    return ident


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        stdin: bytes | None = None) -> float:
    """Seconds one process takes, output discarded; fails loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, input=stdin,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-400:]}")
    return elapsed


def median(cmd: list[str], cwd: Path, repeat: int, env: dict[str, str] | None = None,
           stdin: Callable[[int], bytes] | None = None) -> float:
    """Median wall time over ``repeat`` runs (one warm-up run first)."""
    run(cmd, cwd, env, stdin(-1) if stdin else None)
    return statistics.median(run(cmd, cwd, env, stdin(i) if stdin else None)
                             for i in range(repeat))


def peak_rss_mib(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float | None:
    """Peak resident memory of one run, from GNU time -v (None if it is not installed)."""
    if not GNU_TIME.exists():
        return None
    proc = subprocess.run([str(GNU_TIME), "-v", *cmd], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return int(m.group(1)) / 1024 if m else None


class Table:
    """Collects result rows and prints them aligned, with the ratio to `python3 -c pass`."""

    HEADER = ("operation", "median", "x pass", "target", "note")

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.floor: float | None = None

    def add(self, name: str, seconds: float | None, target: str = "", note: str = "") -> None:
        shown = f"{seconds * 1000:9.1f} ms" if seconds is not None else "-"
        if self.floor is None and seconds is not None:
            self.floor = seconds  # the first row is `python3 -c pass`
        ratio = f"{seconds / self.floor:5.1f}" if seconds and self.floor else "-"
        self.rows.append((name, shown, ratio, target, note))
        print(f"  {name}: {shown.strip()} {note}", file=sys.stderr)

    def print(self) -> None:
        widths = [max(len(r[i]) for r in [*self.rows, self.HEADER]) for i in range(5)]
        for row in [self.HEADER, *self.rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def bench_history(table: Table, commits: int, repeat: int) -> None:
    """log --json and verify over a long history, against git's own log and signature check."""
    root, key = build_history(commits)
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(key)}
    log = median([*ENVTRAIL, "log", "--json"], root, repeat, env)
    git_log = median(["git", "log", "--format=%H %s%n%b"], root, repeat)
    table.add(f"log --json, {commits} commits", log, "<= 1500 ms",
              f"git log itself: {git_log * 1000:.0f} ms")
    verify_cmd = [*ENVTRAIL, "verify"]
    # verify rewrites its checkpoint; every run checks the whole history again.
    ver = median(verify_cmd, root, repeat, env)
    sample = min(commits, 500)
    git_check = run(["git", "-c", f"gpg.ssh.allowedSignersFile={root}/.envtrail/allowed_signers",
                     "log", f"-{sample}", "--format=%G?"], root)
    per_commit = git_check / sample
    table.add(f"verify, {commits} commits", ver, "<= 2000 ms",
              f"git %G? on {sample} commits: {git_check:.1f} s = {per_commit * 1000:.1f} ms/commit, "
              f"~{per_commit * commits:.0f} s for {commits} ({per_commit * commits / ver:.0f}x)")
    floor, _ = verify_floor.floor(root, key, repeat)
    table.add("V0: verify's libsodium + libgit2 calls alone", floor, "",
              f"verify = V0 + {(ver - floor) * 1000:.0f} ms (bench/verify_floor.py)")
    for name, cmd in (("log --json", [*ENVTRAIL, "log", "--json"]), ("verify", verify_cmd)):
        rss = peak_rss_mib(cmd, root, env)
        if rss is not None:
            small_root, _ = build_history(max(commits // 4, 2))
            small = peak_rss_mib(cmd, small_root, env)
            table.add(f"{name} peak RSS", None, "flat",
                      f"{rss:.0f} MiB at {commits} commits vs {small:.0f} MiB at {commits // 4}")


def bench_timeline(table: Table, commits: int, repeat: int) -> None:
    """verify and log over a line with approvals, break-glass reviews and an events line."""
    root, key = build_timeline(commits)
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(key)}
    line = len(subprocess.run(["git", "rev-list", "--first-parent", "HEAD"], cwd=root,
                              check=True, capture_output=True, text=True).stdout.split())
    marks = len(subprocess.run(["git", "rev-list", "refs/envtrail/events"], cwd=root,
                               check=True, capture_output=True, text=True).stdout.split())
    ver = median([*ENVTRAIL, "verify"], root, repeat, env)
    table.add(f"verify, {line} commits with approvals + {marks} events", ver, "<= 2000 ms")
    floor, _ = verify_floor.floor(root, key, repeat)
    table.add("V0: verify's libsodium + libgit2 calls alone", floor, "",
              f"verify = V0 + {(ver - floor) * 1000:.0f} ms")
    log = median([*ENVTRAIL, "log", "--json"], root, repeat, env)
    table.add("log --json, the same line and events", log, "<= 1500 ms")


def bench_commands(table: Table, repeat: int, f1: float, f2: float) -> None:
    """get, set, export, import and the hook against the start-up floors F1 and F2."""
    root, key = small_store("store-20", 1, 20)
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(key)}
    run([*ENVTRAIL, "verify"], root, env)  # a verified head: reads take the fast path
    get = median([*ENVTRAIL, "get", "VAR_00007", "--env", "production"], root, repeat, env)
    table.add("get (20 vars, verified, nothing new)", get, f"<= F1+25 = {(f1 + .025) * 1000:.0f} ms",
              f"F1+{(get - f1) * 1000:.0f} ms; dotenvx 2.38 ~580 ms here: {0.580 / get:.1f}x")
    setv = median([*ENVTRAIL, "set", "VAR_00003", "--env", "production", "--reason", "bench"],
                  root, repeat, env, stdin=lambda i: f"new value {i}".encode())
    table.add("set (encrypt, sign, commit, refresh)", setv, f"<= F2+40 = {(f2 + .040) * 1000:.0f} ms",
              f"F2+{(setv - f2) * 1000:.0f} ms")
    big, key = small_store("store-5000", 1, 5000)
    run([*ENVTRAIL, "verify"], big, env)
    export = median([*ENVTRAIL, "export", "--env", "production"], big, repeat, env)
    table.add("export, 5,000 vars", export, f"<= F1+100 = {(f1 + .100) * 1000:.0f} ms",
              f"F1+{(export - f1) * 1000:.0f} ms")
    dotenv_file = WORK / "5000.env"
    dotenv_file.write_text("".join(f"IMPORTED_{i:05d}=value-{i}\n" for i in range(5000)))
    imp = median([*ENVTRAIL, "import", str(dotenv_file), "--env", "production", "--reason", "bench",
                  "--prune"], big, repeat, env)
    table.add("import, 5,000-var .env (one commit)", imp, f"<= F2+400 = {(f2 + .400) * 1000:.0f} ms",
              f"F2+{(imp - f2) * 1000:.0f} ms (every run replaces all 5,000)")
    hooked, key = small_store("store-20-envs", 20, 20)
    subprocess.run(["git", "config", "user.email", "b@example.com"], cwd=hooked, check=True)
    # The hook's everyday case: a code commit beside the store, which lives on
    # its own branch (a commit on the store branch itself is always refused).
    subprocess.run(["git", "config", "envtrail.branch", "refs/heads/main"], cwd=hooked, check=True)
    if subprocess.run(["git", "symbolic-ref", "--short", "HEAD"], cwd=hooked, check=True,
                      capture_output=True, text=True).stdout.strip() != "code":
        subprocess.run(["git", "switch", "-q", "--orphan", "code"], cwd=hooked, check=True)
    (hooked / "README").write_text("staged\n")
    subprocess.run(["git", "add", "README"], cwd=hooked, check=True)
    hook = median([*ENVTRAIL, "hook", "pre-commit"], hooked, repeat, env)
    table.add("hook pre-commit (20 environments)", hook, f"<= F2+30 = {(f2 + .030) * 1000:.0f} ms",
              f"F2+{(hook - f2) * 1000:.0f} ms")


def _realistic_python() -> None:
    """Measure envtrail as an installed package runs: with compiled bytecode.

    pip compiles a package's .py files when it installs it; an editable install
    or PYTHONDONTWRITEBYTECODE (set on some machines) would otherwise make every
    run recompile envtrail from source and measure the compiler instead.
    """
    import compileall

    import envtrail

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(envtrail.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="commands,history,timeline")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    _realistic_python()
    table = Table()
    floor = median([sys.executable, "-c", "pass"], WORK, args.repeat)
    table.add("python3 -c pass", floor)
    f1 = median([sys.executable, "-c", "import typer, nacl.bindings, yaml"], WORK, args.repeat)
    table.add("F1: import typer, nacl.bindings, yaml", f1)
    f2 = median([sys.executable, "-c", "import typer, nacl.bindings, yaml, pygit2"], WORK,
                args.repeat)
    table.add("F2: F1 + pygit2", f2)
    if "commands" in args.only:
        bench_commands(table, args.repeat, f1, f2)
    if "history" in args.only:
        bench_history(table, args.commits, args.repeat)
    if "timeline" in args.only:
        bench_timeline(table, args.commits, args.repeat)
    print()
    table.print()


if __name__ == "__main__":
    main()
