"""Mutation testing for envtrail's core logic, with no dependency beyond the test suite.

For one source file it lists small changes a careless edit could make (a comparison
flipped, a condition forced, a ``raise`` dropped...), writes each one over the real
file while a chosen pytest selection runs (``-x -q``, with a timeout), and reports
which mutants no test noticed. A surviving mutant is a claim the suite does not hold:
kill it with a test, or name it equivalent (it cannot change behaviour) in
docs/threat-model.md.

    python bench/mutate.py --file src/envtrail/audit/verify.py
    python bench/mutate.py --file src/envtrail/ops/gate.py --tests tests/ops -k gate
    python bench/mutate.py --file src/envtrail/audit/verify.py --lines 64-253   # one part
    python bench/mutate.py --all                       # every module in TESTS below

The real file holds a mutant only while its tests run; the original bytes are put
back in a ``finally`` (Ctrl-C included), and the run ends by checking that
``git diff --quiet`` holds for the file. Mutated modules are never cached as
bytecode: the child runs with PYTHONDONTWRITEBYTECODE and the module's stale .pyc
is removed before each run (a same-size mutant written within the same second would
otherwise be loaded from the original's .pyc).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Which tests judge which module. Chosen to keep each mutant's run to seconds: the
# unit tests of the module first (they fail fastest under -x), then the attack tests
# that drive it through the CLI. A module not listed here needs --tests.
TESTS: dict[str, list[str]] = {
    "src/envtrail/audit/verify.py": [
        "tests/audit/test_rules.py", "tests/audit/test_rotation_rules.py", "tests/audit/test_verify.py",
        "tests/audit/test_line_attacks.py", "tests/format/test_signers_strict.py",
        "tests/audit/test_repair_stowaways.py", "tests/cli/test_repair_approvals.py",
        "tests/cli/test_format2.py", "tests/audit/test_odd_commits.py",
    ],
    "src/envtrail/audit/view.py": [
        "tests/audit/test_store_view.py", "tests/audit/test_line_states.py",
        "tests/audit/test_env_file_name.py", "tests/audit/test_rules.py",
        "tests/audit/test_tree_objects.py", "tests/audit/test_verify.py", "tests/cli/test_events.py",
        "tests/cli/test_events_ahead.py",
    ],
    "src/envtrail/audit/ledger.py": [
        "tests/cli/test_pending_at_start.py", "tests/cli/test_approvals_late.py",
        "tests/audit/test_break_glass_reach.py", "tests/cli/test_approval_judgement.py",
        "tests/cli/test_break_glass_scope.py", "tests/audit/test_approval_attacks.py",
        "tests/cli/test_approval_quorums.py", "tests/cli/test_repair_approvals.py",
        "tests/cli/test_approvals.py", "tests/cli/test_grant_proposals.py",
    ],
    "src/envtrail/gitstore/rawcommit.py": [
        "tests/gitstore/test_rawcommit.py", "tests/audit/test_odd_commits.py",
        "tests/audit/test_signature_where_git_finds_it.py",
    ],
    "src/envtrail/audit/line.py": [
        "tests/audit/test_rules.py", "tests/audit/test_line_attacks.py", "tests/audit/test_verify.py",
    ],
    "src/envtrail/audit/record.py": [
        "tests/audit/test_record_strict.py", "tests/audit/test_record.py", "tests/audit/test_rules.py",
        "tests/audit/test_verify.py",
    ],
    "src/envtrail/ops/gate.py": [
        "tests/ops/test_gate.py", "tests/audit/test_line_attacks.py", "tests/cli/test_rollback.py",
        "tests/cli/test_sync_taint.py",
    ],
    "src/envtrail/ops/fastread.py": [
        "tests/ops/test_gate.py", "tests/audit/test_verify.py", "tests/audit/test_line_attacks.py",
    ],
    "src/envtrail/crypto/sshsig.py": ["tests/crypto/test_sshsig_strict.py", "tests/crypto/test_sshsig.py"],
    "src/envtrail/format/signers.py": [
        "tests/format/test_signers_strict.py", "tests/format/test_signers_policy.py",
    ],
    "src/envtrail/crypto/seal.py": ["tests/crypto/test_seal.py", "tests/crypto/test_keys.py"],
    "src/envtrail/format/envfile.py": [
        "tests/format/test_envfile.py", "tests/format/test_size_limits.py",
    ],
    "src/envtrail/format/policy.py": [
        "tests/format/test_policy_strict.py", "tests/format/test_signers_policy.py",
        "tests/format/test_policy_patterns.py", "tests/cli/test_policy_forms.py",
        "tests/cli/test_policy.py", "tests/cli/test_approvals.py",
    ],
    "src/envtrail/ops/hook.py": ["tests/cli/test_hook.py"],
    "src/envtrail/ops/prepush.py": ["tests/cli/test_pre_push.py"],
    "src/envtrail/audit/repairs.py": [
        "tests/audit/test_sweep_plan.py", "tests/audit/test_repair_dates.py",
        "tests/audit/test_repair_stowaways.py",
        "tests/audit/test_repair_fingerprints.py", "tests/audit/test_repair_rules.py",
        "tests/cli/test_repair_sweeps.py", "tests/audit/test_rules.py",
        "tests/cli/test_repair_approvals.py", "tests/cli/test_swept_status_log.py",
        "tests/audit/test_line_attacks.py", "tests/cli/test_sync_taint.py",
    ],
    "src/envtrail/audit/keyring.py": [
        "tests/audit/test_verify.py", "tests/audit/test_rotation_rules.py",
        "tests/audit/test_rules.py", "tests/audit/test_line_attacks.py",
        "tests/cli/test_grant_proposals.py",
    ],
    "src/envtrail/audit/checkpoint.py": [
        "tests/ops/test_gate.py", "tests/audit/test_log_vouched.py", "tests/cli/test_sync_taint.py",
        "tests/cli/test_events.py",
    ],
    "src/envtrail/audit/approvals.py": [
        "tests/cli/test_approvals.py", "tests/cli/test_approvals_late.py",
        "tests/cli/test_break_glass_scope.py", "tests/audit/test_approval_attacks.py",
        "tests/cli/test_repair_approvals.py", "tests/cli/test_pending_at_start.py",
        "tests/cli/test_grant_proposals.py", "tests/cli/test_approval_quorums.py",
        "tests/cli/test_approval_judgement.py",
    ],
    "src/envtrail/audit/breakglass.py": [
        "tests/audit/test_break_glass_reach.py", "tests/cli/test_break_glass_scope.py",
        "tests/cli/test_approvals_late.py", "tests/audit/test_approval_attacks.py",
        "tests/cli/test_approvals.py",
    ],
    "src/envtrail/audit/actions.py": [
        "tests/audit/test_label_custody.py", "tests/audit/test_label_attacks.py",
        "tests/cli/test_review_tree.py", "tests/audit/test_rotation_rules.py",
    ],
    "src/envtrail/audit/effect.py": [
        "tests/audit/test_label_custody.py", "tests/cli/test_review_tree.py",
        "tests/audit/test_label_attacks.py", "tests/audit/test_rotation_rules.py",
    ],
    "src/envtrail/ops/replay.py": [
        "tests/ops/test_replay.py", "tests/cli/test_sync.py", "tests/cli/test_sync_remade.py",
        "tests/cli/test_sync_refs.py",
    ],
    "src/envtrail/ops/access.py": [
        "tests/cli/test_access.py", "tests/audit/test_signer_lines.py",
        "tests/cli/test_sync_remade.py",
    ],
    "src/envtrail/gitstore/trees.py": [
        "tests/audit/test_tree_objects.py", "tests/audit/test_rules.py",
        "tests/audit/test_repair_stowaways.py", "tests/audit/test_repair_rules.py",
        "tests/audit/test_line_attacks.py",
    ],
    "src/envtrail/audit/signature.py": [
        "tests/audit/test_verify.py", "tests/reliability/test_access_proof.py",
        "tests/audit/test_signature_where_git_finds_it.py", "tests/audit/test_repair_rules.py",
        "tests/audit/test_tree_objects.py",
    ],
    "src/envtrail/ops/trust.py": [
        "tests/audit/test_line_attacks.py", "tests/ops/test_gate.py",
        "tests/audit/test_trust_rewrite_ci.py",
    ],
    "src/envtrail/audit/eventline.py": [
        "tests/cli/test_event_checks.py", "tests/cli/test_events.py",
        "tests/audit/test_log_vouched.py", "tests/cli/test_sync_events.py",
    ],
    "src/envtrail/ops/eventsync.py": [
        "tests/cli/test_sync_remade.py", "tests/cli/test_sync_events.py",
    ],
    "src/envtrail/audit/membership.py": ["tests/cli/test_restore_exposure.py"],
    "src/envtrail/ops/reach.py": [
        "tests/cli/test_policy_reach.py", "tests/cli/test_revoke_approvers.py",
    ],
    "src/envtrail/format/exports.py": [
        "tests/format/test_exports.py", "tests/cli/test_exact_values.py",
        "tests/cli/test_nul_value.py",
    ],
    "src/envtrail/crypto/keyfile.py": ["tests/crypto/test_keys.py", "tests/cli/test_identity_keys.py"],
    "src/envtrail/format/yamlsafe.py": [
        "tests/format/test_yamlsafe.py", "tests/format/test_size_limits.py",
        "tests/format/test_envfile.py",
    ],
    "src/envtrail/crypto/keys.py": [
        "tests/crypto/test_keys.py", "tests/crypto/test_keys_strict.py",
        "tests/crypto/test_sshsig.py", "tests/crypto/test_sshsig_strict.py",
        "tests/cli/test_identity_keys.py", "tests/cli/test_access.py",
    ],
    "src/envtrail/crypto/wire.py": [
        "tests/crypto/test_wire.py", "tests/crypto/test_keys.py", "tests/crypto/test_sshsig_strict.py",
        "tests/crypto/test_sshsig.py",
    ],
    "src/envtrail/gitstore/remote.py": [
        "tests/gitstore/test_remote.py", "tests/cli/test_sync.py", "tests/cli/test_pre_push.py",
    ],
    "src/envtrail/format/dotenv.py": [
        "tests/format/test_dotenv.py", "tests/test_names.py", "tests/format/test_size_limits.py",
        "tests/format/test_exports.py",
    ],
}
# Modules split off these ones (review15 S5) are judged by the same tests.
for _whole, _part in (("ops/replay.py", "ops/delta.py"),
                      ("ops/eventsync.py", "ops/eventreplay.py"),
                      ("ops/gate.py", "ops/verifiedline.py")):
    TESTS[f"src/envtrail/{_part}"] = TESTS[f"src/envtrail/{_whole}"]

FLIPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE), ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
          ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
# Statements whose removal is a plausible slip (a dropped check, append or counter);
# dropping an assignment mostly just raises NameError, which proves nothing.
DROPPABLE = (ast.Expr, ast.Raise, ast.AugAssign, ast.Assert, ast.Continue, ast.Break)


@dataclass(frozen=True)
class Mutant:
    """One change: the source span it replaces and the text put there."""

    line: int
    what: str
    start: tuple[int, int]
    end: tuple[int, int]
    text: str

    def apply(self, source: str) -> str:
        """The source with this mutant's span replaced."""
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for ln in lines:
            offsets.append(offsets[-1] + len(ln.encode()))
        data = source.encode()
        a = offsets[self.start[0] - 1] + self.start[1]
        b = offsets[self.end[0] - 1] + self.end[1]
        return (data[:a] + self.text.encode() + data[b:]).decode()


def _span(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    return (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)


def _expr(node: ast.AST, new: ast.AST, what: str) -> Mutant:
    start, end = _span(node)
    return Mutant(node.lineno, what, start, end, "(" + ast.unparse(new) + ")")


def _booleanish(node: ast.AST) -> bool:
    return isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, bool))


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, f-string parts (3.11 positions are unreliable there),
    annotations, decorators and anything under ``if TYPE_CHECKING``."""
    skip: set[int] = set()

    def mark(n: ast.AST) -> None:
        skip.update(id(x) for x in ast.walk(n))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            mark(body[0])
        if isinstance(node, ast.JoinedStr):
            mark(node)
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            mark(node.returns)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:  # @dataclass(frozen=True) is structure, not logic
                mark(decorator)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            mark(node)
    return skip


def mutants(source: str) -> Iterator[Mutant]:
    """Every mutant of ``source``, in source order."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    found: list[Mutant] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        found.extend(_of_node(node))
        for block in ("body", "orelse", "finalbody"):
            stmts = getattr(node, block, None)
            if isinstance(stmts, list) and isinstance(node, ast.stmt | ast.ExceptHandler | ast.Module):
                found.extend(_drops(stmts, skip))
    yield from sorted(found, key=lambda m: (m.start, m.end, m.what))


def _of_node(node: ast.AST) -> Iterator[Mutant]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for flip in FLIPS.get(type(op), ()):
                new = copy.deepcopy(node)
                new.ops[i] = flip()
                yield _expr(node, new, f"{SYMBOL[type(op)]} -> {SYMBOL[flip]}")
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        names = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        yield _expr(node, ast.BoolOp(other, node.values), f"{names[0]} -> {names[1]}")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield _expr(node, node.operand, "not dropped")
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield _expr(node, ast.Constant(not node.value), f"{node.value} -> {not node.value}")
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        for d in (1, -1):
            yield _expr(node, ast.Constant(node.value + d), f"{node.value} -> {node.value + d}")
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        start, end = _span(node)
        yield Mutant(node.lineno, "return None", start, end, "return None")
        if _booleanish(node.value):
            yield Mutant(node.lineno, "return not X", start, end,
                         "return not (" + ast.unparse(node.value) + ")")
    elif isinstance(node, ast.If | ast.While | ast.IfExp):
        kinds = (True, False) if not isinstance(node, ast.While) else (False,)
        for forced in kinds:
            yield _expr(node.test, ast.Constant(forced), f"condition forced {forced}")


def _drops(stmts: list[ast.stmt], skip: set[int]) -> Iterator[Mutant]:
    for stmt in stmts:
        if id(stmt) in skip or not isinstance(stmt, DROPPABLE):
            continue
        if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Call):
            continue
        start, end = _span(stmt)
        label = ast.unparse(stmt).splitlines()[0][:50]
        yield Mutant(stmt.lineno, f"deleted `{label}`", start, end, "pass")


@dataclass(frozen=True)
class Outcome:
    """What the tests made of one mutant."""

    mutant: Mutant
    verdict: str  # killed, survived, timeout, invalid
    seconds: float


class Restorer:
    """Holds the original bytes and puts them back on exit, whatever the exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.original = path.read_bytes()

    def write(self, text: str) -> None:
        _drop_pyc(self.path)
        self.path.write_text(text, encoding="utf-8")

    def restore(self) -> None:
        if self.path.read_bytes() != self.original:
            self.path.write_bytes(self.original)
        _drop_pyc(self.path)


def _drop_pyc(path: Path) -> None:
    for pyc in (path.parent / "__pycache__").glob(path.stem + ".*.pyc"):
        pyc.unlink(missing_ok=True)


def run_tests(tests: list[str], timeout: float) -> tuple[str, float]:
    """``killed`` if the selection fails, ``survived`` if it passes, ``timeout`` past ``timeout``."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n0",
           *tests]
    began = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout", time.monotonic() - began
    finally:
        if proc.poll() is None:  # interrupted: take the child's whole group down with us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return ("survived" if code == 0 else "killed"), time.monotonic() - began


def mutate_file(rel: str, tests: list[str], timeout: float, limit: int | None,
                only_lines: set[int] | None, say: Callable[[str], None]) -> list[Outcome]:
    """Run every mutant of ``rel`` against ``tests``; the file is restored before returning."""
    path = ROOT / rel
    restorer = Restorer(path)
    source = restorer.original.decode()
    todo = [m for m in mutants(source) if only_lines is None or m.line in only_lines]
    if limit is not None:
        todo = todo[:limit]
    outcomes: list[Outcome] = []
    try:
        base, clean = run_tests(tests, timeout * 3)
        if base != "survived":
            raise SystemExit(f"{rel}: the tests fail without any mutant ({base}); fix them first")
        say(f"{rel}: {len(todo)} mutants, tests take {clean:.1f} s unmutated")
        # A surviving mutant runs the whole selection: never cut it shorter than that.
        limit_s = max(timeout, clean * 3)
        for n, m in enumerate(todo, 1):
            text = m.apply(source)
            try:
                compile(text, rel, "exec")
            except SyntaxError:
                outcomes.append(Outcome(m, "invalid", 0.0))
                continue
            restorer.write(text)
            try:
                verdict, secs = run_tests(tests, limit_s)
            finally:
                restorer.restore()
            outcomes.append(Outcome(m, verdict, secs))
            shown = verdict.upper() if verdict != "killed" else verdict
            say(f"  [{n}/{len(todo)}] {shown} {rel}:{m.line} {m.what} ({secs:.0f} s)")
    finally:
        restorer.restore()
        clean = subprocess.run(["git", "diff", "--quiet", "--", rel], cwd=ROOT).returncode == 0
        if not clean:
            raise SystemExit(f"{rel} differs from git after restoring: check it by hand")
    return outcomes


def score(outcomes: list[Outcome]) -> str:
    """``killed/total (pct)``, counting timeouts as killed (the suite noticed) and ignoring invalid."""
    valid = [o for o in outcomes if o.verdict != "invalid"]
    dead = sum(o.verdict in ("killed", "timeout") for o in valid)
    pct = 100.0 * dead / len(valid) if valid else 100.0
    return f"{dead}/{len(valid)} killed ({pct:.0f}%)"


def _lines(specs: list[str] | None) -> set[int] | None:
    if not specs:
        return None
    out: set[int] = set()
    for spec in specs:
        first, _, last = spec.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", action="append", default=[],
                    help="source file, relative to the repo root (repeatable)")
    ap.add_argument("--all", action="store_true", help="every module in the built-in test mapping")
    ap.add_argument("--tests", nargs=argparse.REMAINDER,
                    help="pytest arguments (default: the module's mapping); must come last")
    ap.add_argument("--max", type=int, help="stop after this many mutants per file")
    ap.add_argument("--lines", action="append", metavar="N[-M]",
                    help="only mutants on these lines, e.g. 64-253 (repeatable)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds per mutant (never less than 3x the clean run)")
    ap.add_argument("--list", action="store_true", help="print the mutants and run nothing")
    args = ap.parse_args(argv)
    # A kill from outside unwinds like Ctrl-C, through the finally that restores the file.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    files = list(args.file) + (sorted(TESTS) if args.all else [])
    if not files:
        ap.error("give --file or --all")
    failed = False
    for rel in files:
        if args.list:
            only = _lines(args.lines)
            for m in mutants((ROOT / rel).read_text(encoding="utf-8")):
                if only is None or m.line in only:
                    print(f"{rel}:{m.line} {m.what}")
            continue
        tests = args.tests or [t for t in TESTS.get(rel, []) if (ROOT / t).exists()]
        if not tests:
            ap.error(f"{rel}: no tests mapped; pass --tests")
        outcomes = mutate_file(rel, tests, args.timeout, args.max, _lines(args.lines),
                               lambda s: print(s, flush=True))
        print(f"{rel}: {score(outcomes)}", flush=True)
        failed |= any(o.verdict == "survived" for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
