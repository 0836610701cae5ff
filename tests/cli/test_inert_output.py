"""History's text is shown as written and never acts: not as rich markup on a terminal,
not as control or bidi characters on a terminal or through a pipe, not in --json.

Found by the seventh attacker review (F1, F2): a ``[/]`` in a reason made ``blame``,
``history`` and ``proposals`` die on a terminal, ``[a-z]`` vanished from a policy's
pattern and ``[default]`` from a revealed secret; piped ``log`` wrote a signer's ``\\r``
and escape sequences raw, so a row could be redrawn as someone else's.
"""

import json
import re
import unicodedata

import pytest

import forge
from conftest import git, in_terminal
from envtrail.audit import record
from envtrail.gitstore.repo import GitRepo

SGR = re.compile(r"\x1b\[[0-9;]*m")
# What no output of envtrail may carry raw when history put it there.
RAW = ["\r", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069",
       "\u200b", "\u2028", "\u2029", "\ufeff"]

PATTERN = "^[a-z]+-[0-9]+: .+$"
REASON = "ops-1: see [/] and [link=https://evil.example]INC-1[/link] [reverse]x"
VALUE = "Zx9[default]Qp2[/]"
PROPOSED = "ops-2: [/] rotate [bold]now"
REVOKED = "ops-3: [/] left [red]team"
# check_reason refuses format characters (attack12b G1); a hand-signed one is no record.
BIDI = "ops-4: pay \u202eadmin\u202c \u2066x\u2069 zero\u200bwidth\ufeff"
FLAG_REASON = "ops-4: flag"
# A value may hold anything; `get` gives it exact, the views show it escaped.
CONTROL_VALUE = "on\x1b[2J\rx\u202e"
CONTROL_VALUE_SHOWN = r"on\x1b[2J\x0dx\u202e"


def terminal(cli, store, *args):
    """What a colour terminal shows for ``args``: exit code and text without colour codes."""
    env = {**cli._env(None), "TERM": "xterm-256color", "ENVTRAIL_PAGER": "cat"}
    env.pop("NO_COLOR", None)
    code, drawn = in_terminal(store, list(args), env, columns=250, lines=200)
    if args[0] not in ("review", "show"):  # those print lines, the rest draw with rich
        assert "\x1b[1" in drawn, drawn  # rich drew it, in colour
    return code, SGR.sub("", drawn).replace("\r\n", "\n")


def ok(r):
    assert r.code == 0, r.err
    return r.out


@pytest.fixture
def marked(cli, store, bob):
    """A store whose pattern, reasons and values hold rich markup, as honest writers sign them."""
    ok(cli("policy", "set", "--env", "production", "--reason-pattern", PATTERN,
           "--reason", "ticket ids"))
    ok(cli("set", "API_URL", "--env", "production", "--reason", REASON, input=VALUE))
    ok(cli("set", "FLAG", "--env", "production", "--reason", FLAG_REASON, input=CONTROL_VALUE))
    proposed = ok(cli("set", "API_URL", "--env", "production", "--reason", PROPOSED,
                      "--propose", input="v2"))
    ok(cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
           "--reason", "ops-5: join"))
    ok(cli("access", "revoke", bob.principal, "--env", "staging", "--reason", REVOKED))
    return re.search(r" as ([0-9a-f]{12}) ", proposed).group(1)


def commit_with(store, reason):
    """The store commit whose message holds ``reason``."""
    found = git(store, "log", "--fixed-strings", f"--grep={reason}", "--format=%H").split()
    assert len(found) == 1, found
    return found[0]


def commands(store, proposal):
    return {
        ("policy", "show", "--env", "production"): [PATTERN],
        ("blame", "--env", "production"): [REASON],
        ("history", "API_URL", "--env", "production", "--reveal"): [REASON, VALUE],
        ("proposals",): [PROPOSED],
        ("review", proposal): [PROPOSED],
        ("access", "log"): [REVOKED],
        ("log", "--no-pager"): [REASON, REVOKED],
        ("show", commit_with(store, REASON)): [REASON],
    }


def test_markup_in_history_is_shown_as_written_on_a_terminal_and_piped(cli, store, marked):
    for args, expected in commands(store, marked).items():
        code, text = terminal(cli, store, *args)
        assert code == 0, (args, text)
        assert "MarkupError" not in text and "\x1b]8;" not in text, args  # no crash, no link
        piped = ok(cli(*args))
        for want in expected:
            assert want in text, (args, want, text)
            assert want in piped, (args, want)


def test_format_characters_are_refused_in_a_reason_and_escaped_in_a_value(cli, store, marked):
    """A bidi override reorders a line on a terminal that supports bidi; zero-width
    characters hide text. No reason may hold them (what git log or a CI page shows is
    raw); a value may hold anything: get gives it exact, every view escapes it."""
    r = cli("set", "FLAG", "--env", "production", "--reason", BIDI, input="v2")
    assert r.code == 2 and "U+202E" in r.err, r.err
    args = ("history", "FLAG", "--env", "production", "--reveal")
    for text in (terminal(cli, store, *args)[1], ok(cli(*args))):
        assert CONTROL_VALUE_SHOWN in text and FLAG_REASON in text, text
        assert not any(ch in text for ch in RAW), text
    assert ok(cli("get", "FLAG", "--env", "production")) == CONTROL_VALUE  # exact
    # JSON keeps the exact data and escapes what a terminal would act on.
    text = ok(cli(*args, "--json"))
    assert not any(ch in text for ch in RAW)
    assert CONTROL_VALUE in [json.loads(line)["value"] for line in text.splitlines()]


HOSTILE_REASON = ("\r\x1b[2K2026-01-01 production alice@example.com \u2713 set\x1b7"
                  " \u202eevil\u202c \x07\x7f\x85\x9b31m \u2028\u2029 end")
HOSTILE_SHOWN = (r"\x0d\x1b[2K2026-01-01 production alice@example.com " "\u2713" r" set\x1b7"
                 r" \u202eevil\u202c \x07\x7f\x85\x9b31m \u2028\u2029 end")
HOSTILE_CONTEXT = "host=\x1b8\x1b[K"  # what F2 used to wipe the rest of a row


@pytest.fixture
def hostile(cli, store, alice):
    """A member signs by hand, with her own key, a change whose subject, reason and context
    carry a carriage return, escape sequences, C1 controls, a bidi override and separators:
    text envtrail's own writer refuses. Verify makes it no record, so the views show it as
    an unattested commit, by its subject line: that line is what must stay inert."""
    ok(cli("set", "PAY", "--env", "production", "--reason", "set PAY", input="v1"))
    plan = forge.honest_plan(store, alice.identity, "production", {"PAY": "v2"})
    signed = forge.with_record(plan, reason=HOSTILE_REASON, context=HOSTILE_CONTEXT)
    message = HOSTILE_REASON + "\n\n" + record.render(signed.record)
    commit = forge.commit_plan(store, alice.identity, signed, message=message)
    assert GitRepo(store).info(commit).message.startswith(HOSTILE_REASON + "\n")
    return commit


def test_a_signed_reasons_controls_are_inert_when_piped(cli, hostile):
    """Piped output ends on a terminal too (| cat, | grep, | less -R): a row must not be
    able to erase itself and draw another actor's row in its place."""
    log = ok(cli("log"))
    row = next(line for line in log.splitlines() if hostile[:10] in line)
    assert HOSTILE_SHOWN in row
    assert len(row.split("\t")) == 8  # still one row of eight fields
    shown = ok(cli("show", hostile))
    assert re.search(r"^message +" + re.escape(HOSTILE_SHOWN) + "$", shown, re.M), shown
    verify = cli("verify")  # whatever it finds, it quotes nothing raw
    for text in (log, shown, verify.out, verify.err):
        assert not any(ch in text for ch in RAW), text


def test_a_signed_reasons_controls_are_inert_on_a_terminal(cli, store, hostile):
    for args in (("log", "--no-pager"), ("show", hostile)):
        _, text = terminal(cli, store, *args)
        assert HOSTILE_SHOWN in text, (args, text)
        assert not any(ch in text for ch in RAW), (args, text)


def test_a_signed_reasons_controls_are_escaped_in_json_with_the_exact_data(cli, hostile):
    text = ok(cli("log", "--json"))
    assert not any(ch in text for ch in RAW)
    event = next(json.loads(line) for line in text.splitlines() if hostile in line)
    assert event["reason"] == HOSTILE_REASON


def test_every_hidden_character_is_escaped_and_everything_else_kept():
    """The rule behind all of the above, over the whole of Unicode: controls, format
    characters, line and paragraph separators are escaped; printable text, tabs and
    newlines excepted, is kept as is; JSON stays the same data."""
    from envtrail.cli.common import json_text
    from envtrail.cli.render import inert

    hidden = [chr(c) for c in range(0x110000)
              if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")]
    assert {"\r", "\x1b", "\x85", "\u202e", "\u2066", "\u200b", "\u2028"} <= set(hidden)
    for ch in hidden:
        shown = inert(f"a{ch}b")
        assert ch not in shown and shown.startswith("a\\") and shown.endswith("b"), repr(ch)
        assert json.loads(json_text({"r": ch})) == {"r": ch}
        assert json_text(ch).isascii(), repr(ch)
    assert inert("Zx9[default]Qp2 ✓ héllo 日本") == "Zx9[default]Qp2 ✓ héllo 日本"
    assert json_text("✓ héllo") == '"✓ héllo"'  # readable UTF-8, as before
    assert inert("\udcff") == "\\xff"  # a byte of a name that is not UTF-8
