"""Commit records: rendering and parsing side by side, judged by git interpret-trailers."""

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.audit import context, record
from envtrail.audit.record import Record
from envtrail.model import Change

REC = Record(
    action="set", actor="alice@example.com",
    reason="Rotate Stripe key after it leaked in a CI log (INC-4521)",
    environments=("production",),
    changes=(Change("~", "STRIPE_KEY", "3f9a12c4e1aa", "77b0e1d2b3c4"),
             Change("-", "OLD_TOKEN", "9c1d0e44a0b1", None),
             Change("+", "NEW", None, "0123456789ab")),
    context="host=build-7 envtrail=0.1.0 ci=github-actions run=812",
)


def test_render_matches_the_contract():
    msg = record.render(REC)
    assert msg.splitlines()[0] == "production: set STRIPE_KEY, NEW, unset OLD_TOKEN"
    assert "Envtrail-Change: ~ STRIPE_KEY 3f9a12c4e1aa -> 77b0e1d2b3c4" in msg
    assert "Envtrail-Change: - OLD_TOKEN 9c1d0e44a0b1" in msg
    assert "Envtrail-Change: + NEW 0123456789ab" in msg


def test_git_interpret_trailers_reads_them():
    out = subprocess.run(["git", "interpret-trailers", "--parse"], input=record.render(REC),
                         capture_output=True, text=True, check=True).stdout
    parsed = [line.split(": ", 1) for line in out.splitlines()]
    assert ["Envtrail-Actor", "alice@example.com"] in parsed
    assert sum(1 for k, _ in parsed if k == "Envtrail-Change") == 3


def test_parse_is_the_inverse_of_render():
    assert record.parse(record.render(REC)) == REC


def test_non_envtrail_message_is_none_and_malformed_raises():
    assert record.parse("fix typo\n\nSigned-off-by: x <x@y>\n") is None
    bad = record.render(REC).replace("Envtrail-Format: 1", "Envtrail-Format: 9")
    with pytest.raises(ValueError, match="Format"):
        record.parse(bad)


def test_many_changes_summarised_in_subject():
    rec = Record("import", "a@b.c", "bulk", ("staging",),
                 tuple(Change("+", f"K{i}", None, "0" * 12) for i in range(20)))
    assert record.subject(rec) == "staging: import: 20 set, 0 unset"


# What check_reason lets through (no control or format characters, no line separators).
reasons = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF,
                                blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")),
                  min_size=1, max_size=80).map(str.strip).filter(bool)
fps = st.from_regex(r"\A[0-9a-f]{12}\Z")
keys = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,15}\Z")


@given(reasons, st.lists(st.tuples(st.sampled_from("+-~"), keys, fps, fps), max_size=6,
                          unique_by=lambda c: c[1]))
def test_roundtrip_property(reason, raw_changes):
    changes = tuple(Change(op, k, None if op == "+" else a, None if op == "-" else b)
                    for op, k, a, b in raw_changes)
    rec = Record("set", "ci:deploy", reason, ("production",), changes, "host=x")
    assert record.parse(record.render(rec)) == rec


def test_context_detects_ci_and_sanitises():
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "release deploy", "GITHUB_RUN_ID": "812",
           "ENVTRAIL_CONTEXT": "ticket=INC-1 change=42"}
    text = context.gather(env, "build-7", "0.1.0")
    parsed = context.parse(text)
    assert parsed["ci"] == "github-actions"
    assert parsed["workflow"] == "release_deploy"
    assert (parsed["run"], parsed["ticket"], parsed["host"]) == ("812", "INC-1", "build-7")
    gitlab = context.parse(context.gather({"GITLAB_CI": "true", "CI_PIPELINE_ID": "9"}, "h", "v"))
    assert (gitlab["ci"], gitlab["pipeline"]) == ("gitlab-ci", "9")
    assert "ci" not in context.parse(context.gather({}, "h", "v"))


@given(st.text(max_size=400))
def test_arbitrary_messages_parse_or_fail_cleanly(text):
    try:
        rec = record.parse(text)
    except ValueError:
        return
    # None exactly when the trailer block holds no Envtrail- trailer.
    ours = [k for k, _ in record.trailers(text) if k.startswith("Envtrail-")]
    assert (rec is None) == (not ours)


TRAILER_LINES = ["Envtrail-Format: 1", "Envtrail-Action: set", "Envtrail-Actor: a",
                 "Envtrail-Actor: b", "Envtrail-Change: + K 0123456789ab", "Envtrail-Change: bogus",
                 "Envtrail-Format: 2", "Envtrail-Environment: production", "Envtrail-Reason: r",
                 "Other: x", "not a trailer"]


def _expected(lines: list[str]) -> str:
    """What parse must do with a trailer block: "none", "error" or "record"."""
    if "not a trailer" in lines or not any(ln.startswith("Envtrail-") for ln in lines):
        return "none"
    single = ("Envtrail-Format", "Envtrail-Action", "Envtrail-Actor", "Envtrail-Environment",
              "Envtrail-Reason")
    counts = {k: sum(1 for ln in lines if ln.startswith(k + ":")) for k in single}
    if any(n > 1 for n in counts.values()) or "Envtrail-Change: bogus" in lines:
        return "error"
    if lines.count("Envtrail-Change: + K 0123456789ab") > 1:
        return "error"  # one variable, one change
    if "Envtrail-Format: 1" not in lines or not counts["Envtrail-Action"] or not counts["Envtrail-Actor"]:
        return "error"
    return "record"


@given(st.lists(st.sampled_from(TRAILER_LINES), max_size=8))
def test_trailer_blocks_parse_exactly_when_well_formed(lines):
    message = "subject\n\nbody\n\n" + "\n".join(lines) + "\n"
    try:
        rec = record.parse(message)
    except ValueError:
        assert _expected(lines) == "error"
        return
    assert _expected(lines) == ("none" if rec is None else "record")
    if rec is not None:
        assert rec.actor in {"a", "b"} and f"Envtrail-Actor: {rec.actor}" in lines


@pytest.mark.parametrize("name", ["Format", "Environment", "Action", "Actor", "Reason", "Context",
                                  "Member", "Rollback-To", "Admin", "Signer-Expired", "Replayed"])
def test_a_repeated_single_valued_trailer_makes_the_record_invalid(name):
    rec = Record("grant", "alice@example.com", "why", ("production",), context="host=h",
                 extra=(("Member", "+ bob@example.com"), ("Rollback-To", "0" * 40),
                        ("Admin", "+ bob@example.com"), ("Signer-Expired", "bob@example.com"),
                        ("Replayed", "1" * 40)))
    message = record.render(rec)
    assert record.parse(message) == rec
    line = next(ln for ln in message.splitlines() if ln.startswith(f"Envtrail-{name}: "))
    twice = message.replace(line, f"{line}\n{line.replace(': ', ': x', 1)}")
    with pytest.raises(ValueError, match=f"Envtrail-{name}"):
        record.parse(twice)


def test_several_environments_only_where_an_action_spans_them():
    init = Record("init", "a@b.c", "create", ("production", "staging"))
    assert record.parse(record.render(init)) == init
    repair = Record("repair", "a@b.c", "fix", ("production", "staging"),
                    extra=(("Acknowledges", "1" * 40 + " 3"), ("Acknowledges", "2" * 40 + " 1"),
                           ("Repair-Clean", "3" * 40)))
    assert record.parse(record.render(repair)) == repair
    twice = record.render(repair).replace("Envtrail-Repair-Clean: " + "3" * 40,
                                          "Envtrail-Repair-Clean: " + "3" * 40
                                          + "\nEnvtrail-Repair-Clean: " + "4" * 40)
    with pytest.raises(ValueError, match="Repair-Clean"):
        record.parse(twice)
    for action in ("set", "grant", "rotate", "policy"):
        rec = Record(action, "a@b.c", "r", ("production", "staging"))
        with pytest.raises(ValueError, match="Envtrail-Environment"):
            record.parse(record.render(rec))
    same = Record("init", "a@b.c", "create", ("production", "production"))
    with pytest.raises(ValueError, match="Envtrail-Environment"):
        record.parse(record.render(same))


def test_verify_reports_a_signed_commit_that_repeats_a_trailer(cli, store, alice):
    import forge

    plan = forge.honest_plan(store, alice.identity, "production", {"A": "v"}, reason="r")
    message = record.render(plan.record).replace(
        "Envtrail-Environment: production",
        "Envtrail-Environment: production\nEnvtrail-Environment: staging")
    commit = forge.commit_plan(store, alice.identity, plan, message=message)
    r = cli("verify")
    assert r.code == 1
    finding = next(ln for ln in r.out.splitlines() if ln.startswith(commit[:10]))
    assert "no valid Envtrail trailers" in finding


@pytest.mark.parametrize(("fp", "ok"), [
    ("0123456789ab", True), ("0123456789abcdef0123456789abcdef", True), ("?", True),
    ("0123456789a", False), ("0123456789abc", False), ("0123456789abcdef0123456789abcde", False),
    ("0123456789abcdef0123456789abcdef0", False), ("0123456789AB", False), ("", False),
])
def test_change_fingerprints_are_12_or_32_hex_digits(fp, ok):
    """Format 1 files give 12 digits, format 2 files 32; nothing else is a fingerprint."""
    for text in (f"+ K {fp}", f"- K {fp}", f"~ K {fp} -> {fp}"):
        if ok:
            change = record.parse_change(text)
            assert fp in (change.old_fp, change.new_fp)
        else:
            with pytest.raises(ValueError, match="malformed Envtrail-Change"):
                record.parse_change(text)


def test_trailers_are_the_last_paragraph_of_at_least_two():
    assert record.trailers("subject\n\nKey: v\nOther-Key: w: x\n") == [("Key", "v"),
                                                                       ("Other-Key", "w: x")]
    assert record.trailers("Key: v\n") == []  # a lone paragraph is a subject, not trailers
    assert record.trailers("subject\n\nKey: v\nnot one\n") == []  # every line, or none
    assert record.trailers("subject\n\nKey: v\u2028Next: w\n") == [("Key", "v\u2028Next: w")]
