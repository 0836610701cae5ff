"""A reason padded to the screen's edge cannot draw a row of its own on a terminal.

Found by attacker review 12b (G13): ``check_reason`` allows runs of spaces, and ``log``
let rich fold a commit's body at the terminal's width, so a member padded his reason
until the text after it began a new screen line at column 0, shaped exactly like a log
row: an earlier commit of alice's, a time, ``alice@example.com ✓``, ``revert``. Nothing
in it is a control character; only the layout can stop it. Every view is drawn here on a
real pseudo-terminal at several widths.
"""

import re

import pytest

from conftest import git, in_terminal

WIDTHS = (80, 100, 120, 160)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COMMIT_ID = re.compile(r"[0-9a-f]{10}\b")
# After "    set ~PAYMENT_KEY  " (log's body line) or "why        " (show).
PREFIXES = (len("    set ~PAYMENT_KEY  "), len("why        "), len("  reason: "))


def fake_row(alice_commit: str) -> str:
    return (f"{alice_commit[:10]}  2026-11-27 03:20:28+00:00  production  alice@example.com ✓"
            "  vm  revert ~PAYMENT_KEY  undo bob's change (INC-9)")


def padded(fake: str, width: int, prefix: int) -> str:
    """``rotate``, then spaces to the end of the screen line, then the fake row."""
    return "rotate" + " " * (width - prefix - len("rotate")) + fake


def drawn(cli, store, args, width):
    env = {**cli._env(None), "TERM": "xterm-256color", "ENVTRAIL_PAGER": "cat"}
    env.pop("NO_COLOR", None)  # in colour, as most people read it
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    code, text = in_terminal(store, list(args), env, columns=width, lines=200)
    assert code == 0, text
    lines = [ln for ln in ANSI.sub("", text).replace("\r", "").split("\n") if ln.strip()]
    # The terminal would fold a longer line itself, at column 0: envtrail must not.
    assert all(len(ln) <= width for ln in lines), (width, lines)
    return lines


@pytest.fixture
def padded_store(cli, store, bob):
    """bob changes alice's PAYMENT_KEY, his reason padded for each width and each view."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("set", "PAYMENT_KEY", "--env", "production", "--reason", "INC-1",
               input="pk_live_good").code == 0
    fake = fake_row(git(store, "rev-parse", "HEAD").strip())
    as_bob, made = cli.as_(bob), {}
    for width in WIDTHS:
        for prefix in PREFIXES:
            r = as_bob("set", "PAYMENT_KEY", "--env", "production",
                       "--reason", padded(fake, width, prefix), input=f"v{width}{prefix}")
            assert r.code == 0, r.err
            made[width, prefix] = git(store, "rev-parse", "HEAD").strip()
    assert cli("verify").code == 0  # honest writes: nothing for verify to find
    return fake, made


def test_a_padded_reason_never_starts_a_log_row(cli, store, padded_store):
    ids = git(store, "rev-list", "HEAD").split()
    for width in WIDTHS:
        lines = drawn(cli, store, ["log", "--no-pager"], width)
        heads = [ln for ln in lines if not ln.startswith(" ")]
        # Column 0 holds each commit's head, once, and nothing else: no fake row.
        assert [h[:10] for h in heads] == [c[:10] for c in ids], (width, lines)
        assert all(COMMIT_ID.match(h) for h in heads)
        assert not any("INC-9" in h for h in heads), (width, heads)
        # A reason past 120 characters is cut in the log (show and --json give it whole).
        assert not any("INC-9" in ln for ln in lines) and any("…" in ln for ln in lines)
        # Whatever folded is indented past the body, under bob's own head.
        assert all(ln.startswith("        ") for ln in lines
                   if ln.startswith(" ") and not ln.startswith("    set ")
                   and not ln.startswith("    grant ") and not ln.startswith("    init ")), lines


def test_a_padded_reason_never_starts_a_line_of_show(cli, store, padded_store):
    _, made = padded_store
    labels = re.compile(r"(commit|when|signature|who|action|env|where|why|what|verify)(  |$)")
    for width in WIDTHS:
        for commit in {made[width, len("why        ")], made[80, len("why        ")]}:
            lines = drawn(cli, store, ["show", commit], width)
            assert all(labels.match(ln) for ln in lines if not ln.startswith(" ")), "\n".join(lines)
            why = next(i for i, ln in enumerate(lines) if ln.startswith("why "))
            # The reason is shown whole: its folded lines follow, indented.
            assert lines[why + 1].startswith("    "), lines
            assert "INC-9" in "".join(lines) and "INC-9" not in lines[why]


def test_a_padded_reason_stays_in_its_cell_or_indented_in_review_and_tables(cli, store,
                                                                              padded_store, bob):
    r = cli.as_(bob)("set", "PAYMENT_KEY", "--env", "production", "--propose", "--reason",
                     padded(padded_store[0], 80, len("  reason: ")), input="proposed")
    assert r.code == 0, r.err
    proposal = re.search(r" as ([0-9a-f]{12}) ", r.out).group(1)
    for width in WIDTHS:
        review = drawn(cli, store, ["review", proposal], width)
        assert all(ln.startswith("proposal ") for ln in review if not ln.startswith(" "))
        assert not any(ln.startswith("  ") and not ln.startswith("    ") and "INC-9" in ln
                       for ln in review), review
        tables = (["proposals"], ["blame", "--env", "production"],
                  ["history", "PAYMENT_KEY", "--env", "production"])
        for args in tables if width == 80 else tables[:1]:  # narrow is where cells fold most
            table = drawn(cli, store, args, width)
            # rich folds a cell inside its column: every line is the table's own.
            assert all(ln[0] in "┏┃┡│└ " for ln in table), (args, width, table)
            assert not any(COMMIT_ID.match(ln) for ln in table), (args, width, table)


def test_a_public_key_line_is_never_broken_for_a_narrow_screen(cli, store, alice):
    """The line `identity show` prints is pasted whole into `access grant`: envtrail
    folds wide lines only where history's text could pad itself, never this one."""
    env = {**cli._env(None), "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    code, text = in_terminal(store, ["identity", "show"], env, columns=40)
    assert code == 0, text
    key = " ".join(alice.publine.split()[:2])
    assert any(line.startswith(key) for line in text.replace("\r", "").split("\n")), text
