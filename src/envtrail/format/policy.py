"""``.envtrail/policy.yaml``: rules per environment, with defaults.

```yaml
envtrail: 1
defaults:
  require_reason: true        # a non-empty --reason on every write
  reason_pattern: null        # an RE2 pattern the reason must contain (docs/format.md)
  writers: any                # 'any' member, or a list of principals and/or 'admins'
  approvals: 0                # approvals a change needs before it lands on the line
  approvers: members          # 'members' (of the environment, minus ci:*) or a list
  break_glass: true           # whether --break-glass may land a change unapproved
  break_glass_review: 24h     # when an unreviewed break-glass change turns overdue
environments:
  production:
    reason_pattern: '[A-Z]+-[0-9]+'
    writers: [admins, ci:release]
    approvals: 1
```

The approval keys may also be written at the top level, one map per key from
environment to value (``approvals: {production: 1}``), as DESIGN.md shows them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import load
from envtrail.model import POLICY_WORDS

_RULE_KEYS = {"require_reason", "reason_pattern", "writers", "approvals", "approvers",
              "break_glass", "break_glass_review"}
# DESIGN's shorthand: these may also sit at the top level, as maps from environment to value.
_PER_ENV_TOP = ("approvals", "approvers", "break_glass", "break_glass_review")
_TOP_KEYS = frozenset({"envtrail", "defaults", "environments", *_PER_ENV_TOP})
_DURATION = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
SYNTAX_HINT = "reason patterns use RE2 syntax: no backreferences or lookaround (see docs/format.md)"


class PatternError(ValueError):
    """A reason pattern RE2 cannot compile; the message says why, in one line."""


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program for a reason pattern; PatternError if it is not one.

    Every reader of the store evaluates these patterns, written by whoever
    could commit policy.yaml, so they run on RE2: matching time is linear in
    the reason whatever the pattern (Python's re backtracks, and ``^(a+)+$``
    would hang every reader). RE2 is imported here only, when a pattern is used.
    """
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own parse errors to stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise PatternError(f"not an RE2 pattern ({why.split(':')[0][:60]})") from None


@dataclass(frozen=True)
class Rule:
    """The rules that apply to writes of one environment."""

    require_reason: bool = True
    reason_pattern: str | None = None
    writers: tuple[str, ...] | None = None  # None: any member may write
    approvals: int = 0
    approvers: tuple[str, ...] | None = None  # None: the members, except ci:* principals
    break_glass: bool = True
    break_glass_review: str = "24h"

    def as_dict(self) -> dict[str, object]:
        """The YAML form of this rule (approval keys only where they are not the default,
        so stores without approvals keep their bytes)."""
        out: dict[str, object] = {
            "require_reason": self.require_reason,
            "reason_pattern": self.reason_pattern,
            "writers": list(self.writers) if self.writers is not None else "any",
        }
        plain = Rule()
        if self.approvals != plain.approvals:
            out["approvals"] = self.approvals
        if self.approvers is not None:
            out["approvers"] = list(self.approvers)
        if self.break_glass != plain.break_glass:
            out["break_glass"] = self.break_glass
        if self.break_glass_review != plain.break_glass_review:
            out["break_glass_review"] = self.break_glass_review
        return out

    @property
    def review_seconds(self) -> int:
        """``break_glass_review`` in seconds."""
        m = _DURATION.fullmatch(self.break_glass_review)
        return int(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else 86400


@dataclass(frozen=True)
class Policy:
    """Defaults plus per-environment overrides."""

    defaults: Rule = field(default_factory=Rule)
    environments: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def rule_for(self, environment: str) -> Rule:
        """The effective rule for ``environment``."""
        rule = self._rules.get(environment)
        if rule is None:
            rule = self._rules[environment] = _apply(self.defaults,
                                                     self.environments.get(environment, {}))
        return rule

    @functools.cached_property
    def _rules(self) -> dict[str, Rule]:
        # A history walk asks the same policy for the same rules at every commit.
        return {}

    def violation(self, environment: str, principal: str, admin: bool, reason: str) -> str | None:
        """The rule a write by ``principal`` would break, as a sentence, or None."""
        rule = self.rule_for(environment)
        if rule.require_reason and not reason:
            return f"require_reason: {environment} changes need a non-empty --reason"
        if rule.reason_pattern and not compile_pattern(rule.reason_pattern).search(reason):
            return (f"reason_pattern: {environment} changes need a reason matching "
                    f"{rule.reason_pattern!r}")
        if rule.writers is not None and not (
                (principal in rule.writers and principal not in POLICY_WORDS)
                or ("admins" in rule.writers and admin)):
            return f"writers: {principal} may not change {environment}"
        return None

    def max_approvals(self) -> int:
        """The highest approval count anywhere in this policy (what a policy,
        signers or config change needs, so lowering a count needs approval too)."""
        return self._max_approvals

    @functools.cached_property
    def _max_approvals(self) -> int:
        return max([self.defaults.approvals,
                    *(self.rule_for(name).approvals for name in self.environments)])


def is_duration(text: str) -> bool:
    """Whether ``text`` is a review window such as ``24h``, ``90m`` or ``2d``."""
    return bool(_DURATION.fullmatch(text))


def rule_from(raw: Mapping[str, object]) -> Rule:
    """A rule from its YAML form (as :meth:`Rule.as_dict` writes it)."""
    return _apply(Rule(), raw)


def _apply(base: Rule, raw: Mapping[str, object]) -> Rule:
    changes: dict[str, object] = {}
    if "require_reason" in raw:
        changes["require_reason"] = raw["require_reason"]
    if "reason_pattern" in raw:
        changes["reason_pattern"] = raw["reason_pattern"]
    if "writers" in raw:
        w = raw["writers"]
        changes["writers"] = None if w == "any" else tuple(w)  # type: ignore[arg-type]
    for key in ("approvals", "break_glass", "break_glass_review"):
        if key in raw:
            changes[key] = raw[key]
    if "approvers" in raw:
        a = raw["approvers"]
        changes["approvers"] = None if a == "members" else tuple(a)  # type: ignore[arg-type]
    return replace(base, **changes)  # type: ignore[arg-type]


def _check_rule(raw: object, where: str) -> Mapping[str, object]:
    if not isinstance(raw, dict) or set(raw) - _RULE_KEYS:
        raise IntegrityError(f".envtrail/policy.yaml: {where} may only set {sorted(_RULE_KEYS)}")
    if "require_reason" in raw and not isinstance(raw["require_reason"], bool):
        raise IntegrityError(f".envtrail/policy.yaml: {where}.require_reason must be true or false")
    pattern = raw.get("reason_pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise IntegrityError(f".envtrail/policy.yaml: {where}.reason_pattern must be a string")
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise IntegrityError(f".envtrail/policy.yaml: {where}.reason_pattern is {exc}",
                                 hint=SYNTAX_HINT) from None
    writers = raw.get("writers", "any")
    if writers != "any" and not (
        isinstance(writers, list) and all(isinstance(w, str) for w in writers)
    ):
        raise IntegrityError(
            f".envtrail/policy.yaml: {where}.writers must be 'any' or a list of principals"
        )
    _check_approval_keys(raw, where)
    return raw


def _check_approval_keys(raw: Mapping[str, object], where: str) -> None:
    count = raw.get("approvals", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100:
        raise IntegrityError(f".envtrail/policy.yaml: {where}.approvals must be a number "
                             "from 0 to 100")
    approvers = raw.get("approvers", "members")
    if approvers != "members" and not (
        isinstance(approvers, list) and all(isinstance(a, str) for a in approvers)
    ):
        raise IntegrityError(f".envtrail/policy.yaml: {where}.approvers must be 'members' or a "
                             "list of principals")
    if "break_glass" in raw and not isinstance(raw["break_glass"], bool):
        raise IntegrityError(f".envtrail/policy.yaml: {where}.break_glass must be true or false")
    review = raw.get("break_glass_review", "24h")
    if not isinstance(review, str) or not _DURATION.fullmatch(review):
        raise IntegrityError(f".envtrail/policy.yaml: {where}.break_glass_review must be a "
                             "duration such as 24h, 90m or 2d")


def parse(data: bytes) -> Policy:
    """Parse and validate; IntegrityError on a fault.

    Besides ``environments``, the approval keys may also be written at the top
    level as maps from environment to value (``approvals: {production: 1}``);
    both forms mean the same rule, and a file that states one key of one
    environment differently in the two is refused rather than read either way.
    """
    doc = load(data, ".envtrail/policy.yaml")
    if not isinstance(doc, dict) or doc.get("envtrail") != 1:
        raise IntegrityError(".envtrail/policy.yaml: not an envtrail policy (format 1)")
    unknown = sorted(str(k) for k in set(doc) - _TOP_KEYS)
    if unknown:
        # A rule this reader would skip is a rule nobody enforces: refuse, never fail open.
        raise IntegrityError(f".envtrail/policy.yaml: unknown top-level key {unknown[0]!r}",
                             hint=f"the top level takes {', '.join(sorted(_TOP_KEYS))}")
    defaults = _apply(Rule(), _check_rule(doc.get("defaults") or {}, "defaults"))
    envs = doc.get("environments") or {}
    if not isinstance(envs, dict):
        raise IntegrityError(".envtrail/policy.yaml: environments must be a mapping")
    rules = {str(k): _check_rule(v, str(k)) for k, v in envs.items()}
    for key in _PER_ENV_TOP:
        for env, value in _top_map(doc, key).items():
            _check_rule({key: value}, f"top-level {key}: {env}")
            rule = rules.setdefault(env, {})
            if key in rule and not _same(key, rule[key], value):
                raise IntegrityError(f".envtrail/policy.yaml: {key} for {env} is stated twice, "
                                     f"differently (top-level {key} and environments.{env})",
                                     hint="state it once, in either form")
            rules[env] = {**rule, key: value}
    return Policy(defaults, rules)


def _top_map(doc: Mapping[str, object], key: str) -> Mapping[str, object]:
    """A top-level ``key: {ENV: value}`` map, checked to be one."""
    raw = doc.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise IntegrityError(f".envtrail/policy.yaml: top-level {key} must map environment "
                             f"names to values, e.g. `{key}: {{production: ...}}`",
                             hint=f"for every environment, set defaults.{key}")
    return raw


def _same(key: str, a: object, b: object) -> bool:
    """Whether two statements of one key agree (approver lists in any order)."""
    if key == "approvers" and isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    return type(a) is type(b) and a == b


def render(policy: Policy) -> bytes:
    """Serialise with a stable key order."""
    import yaml

    doc = {
        "envtrail": 1,
        "defaults": policy.defaults.as_dict(),
        "environments": {k: dict(v) for k, v in sorted(policy.environments.items())},
    }
    header = "# envtrail policy: rules per environment. Change with `envtrail policy set`.\n"
    return (header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)).encode()
