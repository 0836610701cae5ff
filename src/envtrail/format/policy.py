"""``.envtrail/policy.yaml``: rules per environment, with defaults.

```yaml
envtrail: 1
defaults:
  require_reason: true        # a non-empty --reason on every write
  reason_pattern: null        # an RE2 pattern the reason must contain (docs/format.md)
  writers: any                # 'any' member, or a list of principals and/or 'admins'
environments:
  production:
    reason_pattern: '[A-Z]+-[0-9]+'
    writers: [admins, ci:release]
```
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import load

_RULE_KEYS = {"require_reason", "reason_pattern", "writers"}
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

    def as_dict(self) -> dict[str, object]:
        """The YAML form of this rule."""
        return {
            "require_reason": self.require_reason,
            "reason_pattern": self.reason_pattern,
            "writers": list(self.writers) if self.writers is not None else "any",
        }


@dataclass(frozen=True)
class Policy:
    """Defaults plus per-environment overrides."""

    defaults: Rule = field(default_factory=Rule)
    environments: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def rule_for(self, environment: str) -> Rule:
        """The effective rule for ``environment``."""
        return _apply(self.defaults, self.environments.get(environment, {}))

    def violation(self, environment: str, principal: str, admin: bool, reason: str) -> str | None:
        """The rule a write by ``principal`` would break, as a sentence, or None."""
        rule = self.rule_for(environment)
        if rule.require_reason and not reason:
            return f"require_reason: {environment} changes need a non-empty --reason"
        if rule.reason_pattern and not compile_pattern(rule.reason_pattern).search(reason):
            return (f"reason_pattern: {environment} changes need a reason matching "
                    f"{rule.reason_pattern!r}")
        if rule.writers is not None and not (
                principal in rule.writers or ("admins" in rule.writers and admin)):
            return f"writers: {principal} may not change {environment}"
        return None


def _apply(base: Rule, raw: Mapping[str, object]) -> Rule:
    changes: dict[str, object] = {}
    if "require_reason" in raw:
        changes["require_reason"] = raw["require_reason"]
    if "reason_pattern" in raw:
        changes["reason_pattern"] = raw["reason_pattern"]
    if "writers" in raw:
        w = raw["writers"]
        changes["writers"] = None if w == "any" else tuple(w)  # type: ignore[arg-type]
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
    return raw


def parse(data: bytes) -> Policy:
    """Parse and validate; IntegrityError on a fault."""
    doc = load(data, ".envtrail/policy.yaml")
    if not isinstance(doc, dict) or doc.get("envtrail") != 1:
        raise IntegrityError(".envtrail/policy.yaml: not an envtrail policy (format 1)")
    defaults = _apply(Rule(), _check_rule(doc.get("defaults") or {}, "defaults"))
    envs = doc.get("environments") or {}
    if not isinstance(envs, dict):
        raise IntegrityError(".envtrail/policy.yaml: environments must be a mapping")
    return Policy(defaults, {str(k): _check_rule(v, str(k)) for k, v in envs.items()})


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
