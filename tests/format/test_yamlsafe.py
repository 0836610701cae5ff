"""The settings reader that works without PyYAML never reads a document otherwise than PyYAML.

``yamlsafe.load`` reads envtrail's own block-style settings files itself and
hands everything else to PyYAML's strict loader; these tests hold the two to
the same answers, and the common files to the fast path.
"""

import base64
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrail.errors import IntegrityError
from envtrail.format import policy, yamlsafe
from envtrail.format.policy import Policy, Rule


def typed(value):
    """``value`` with every scalar's type kept, so that True and 1 never compare equal."""
    if isinstance(value, dict):
        return ("map", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def strict(text: str):
    return yaml.load(text, Loader=yamlsafe._loader())  # noqa: S506 - the strict safe loader


def assert_agrees(text: str):
    """The fast reader either steps aside or reads exactly what PyYAML reads."""
    fast = yamlsafe._plain_block(text)
    if fast is not None:
        assert typed(fast) == typed(strict(text)), text


WORDS = ["a", "envtrail", "writers", "any", "admins", "members", "yes", "No", "ON", "off",
         "null", "Null", "true", "False", "y", "n", "x y", "k-1", "_u", "1", "01", "0x1f",
         "1_000", "1e3", ".inf", "24h", "ci:release", "a@example.com", "it's", "#c", "-", "~",
         "- a", "a: b", "a #b", " lead", "trail ", "", "'q'", "é", "a\tb", "line\nbreak",
         "[A-Z]+-[0-9]+", "{}", "[]", "=", "<<", "*x", "&y", "!t", "%p", "@at", "48h", "0x", "0b",
         "1e", "2024-01-01", "1:20", "a:", "a:b:c", "on:off", "1.5", "007"]
scalars = st.one_of(st.booleans(), st.none(), st.integers(-(10**22), 10**22),
                    st.sampled_from(WORDS), st.text(max_size=12))
keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
).map(lambda doc: {"envtrail": 1, "doc": doc})


def dump(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_dumped_documents_read_as_pyyaml_reads_them(doc):
    assert_agrees(dump(doc))


@settings(max_examples=600, deadline=None)
@given(documents, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2),
                                     st.sampled_from(list(" \n#:-'\"ab0{}[]\t\r\x85"))),
                           min_size=1, max_size=4))
def test_edited_documents_are_never_read_otherwise(doc, edits):
    text = dump(doc)
    for at, kind, char in edits:
        at %= len(text) + 1
        if kind == 0:
            text = text[:at] + char + text[at:]
        elif kind == 1:
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + char + text[at + 1:]
    try:
        strict(text)
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
        assert yamlsafe._plain_block(text) is None, text  # PyYAML's error stands
        return
    assert_agrees(text)


RULES = [
    Policy(),
    Policy(Rule(require_reason=False), {}),
    Policy(Rule(), {"production": {"approvals": 2, "approvers": ["alice@example.com"],
                                   "break_glass": False, "break_glass_review": "48h"},
                    "staging": {"writers": ["admins", "ci:release"],
                                "reason_pattern": "[A-Z]+-[0-9]+"}}),
    Policy(Rule(writers=("admins",), approvals=1), {"dev": {"require_reason": False}}),
]


@pytest.mark.parametrize("rules", RULES)
def test_policies_envtrail_writes_are_read_without_pyyaml(rules):
    data = policy.render(rules)
    assert yamlsafe._plain_block(data.decode()) is not None
    assert typed(yamlsafe.load(data, "p")) == typed(strict(data.decode()))
    assert policy.parse(data) == policy.parse(data)  # and both reads validate the same
    assert policy.parse(data).rule_for("production") == rules.rule_for("production")


@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n",                 # a duplicate: the strict loader's error
    "a: &x 1\nb: *x\n",             # an alias
    "a: yes\n", "a: On\n", "a: 010\n", "a: 1_0\n", "a: -1\n", "a: 0x10\n",
    "a: b\n  c\n",                  # a plain scalar continued on the next line
    "a:\n  - b\n",                  # a list indented under its key
    "a:\n   b: 1\n",                # three spaces in
    "a:\tb\n", "a: b\r\n", "a: b\x85c: d\n", "a: b", "---\na: 1\n", "a: 'it''s'\n",
    "a: 'x\n  y'\n", "a: \"q\"\n", "a: [b]\n", "a: {b: 1}\n", "? a\n: 1\n", "a:\n",
    "a: b # c\n", "a:  b\n", "a: b \n", "\na: 1\n", "  # c\na: 1\n", "- a\n", "# only\n",
    f"{'k' * 1100}: 1\n",
])
def test_anything_outside_the_subset_is_left_to_pyyaml(text):
    assert yamlsafe._plain_block(text) is None


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.binary(min_size=1, max_size=48).map(lambda b: base64.b64encode(b).decode()),
                 st.sampled_from(WORDS), st.text(alphabet="0123456789abefxXgz+/=:._- ", max_size=8)))
def test_words_taken_as_plain_strings_are_read_back_by_pyyaml(text):
    """Keys, sealed keys and durations are written plain without asking PyYAML, only
    where PyYAML reads them back unchanged (so the rendered bytes are what they were)."""
    if yamlsafe._plain_str(text):
        assert yamlsafe._plain_roundtrip(text) == text
        assert yamlsafe.scalar(text) == text


def test_base64_and_durations_are_plain_without_pyyaml():
    for text in ["4Ab+/9==", "+abc/Zw=", "/9j/4AAQ", "24h", "90m", "ci:release", "a:b:c"]:
        assert yamlsafe._plain_str(text), text
    for text in ["123", "0x1F", "0b101", "+12", "1e5", "1a2b", "12:30", "yes", "Off", "a:", "a: b"]:
        assert not yamlsafe._plain_str(text), text


def test_errors_are_pyyamls_whichever_reader_tried_first():
    with pytest.raises(IntegrityError, match="duplicate key 'a'"):
        yamlsafe.load(b"a: 1\na: 2\n", "x.yaml")
    with pytest.raises(IntegrityError, match="aliases are not allowed"):
        yamlsafe.load(b"a: &x 1\nb: *x\n", "x.yaml")


def test_a_canonical_policy_is_parsed_without_importing_pyyaml():
    data = policy.render(RULES[2])
    code = ("import sys; from envtrail.format import policy; "
            f"p = policy.parse({data!r}); assert p.rule_for('production').approvals == 2; "
            "print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("text", "why"), [
    # A key that is a list or a mapping: Python cannot hash it, PyYAML would crash on it.
    ("? [a, b]\n: 1\n", "mapping keys must be scalars"),
    ("? {a: 1}\n: 1\n", "mapping keys must be scalars"),
    # Nesting deeper than the interpreter recurses building it (a forged policy.yaml
    # could hold it), and deeper than the parser itself takes.
    ("a: " + "[" * 500 + "]" * 500 + "\n", "nested too deeply"),
    ("a: " + "{b: " * 500 + "1" + "}" * 500 + "\n", "nested too deeply"),
    ("a: " + "[" * 20000 + "]" * 20000 + "\n", "nesting depth|nested too deeply"),
    # An integer Python refuses to build from text (over 4,300 digits).
    ("a: " + "9" * 5000 + "\n", "a value no reader can build"),
    # An alias used as a key, and one inside a nested value.
    ("x: &k a\n*k : 1\n", "aliases are not allowed"),
    ("a: &v {b: [1]}\nc: {d: *v}\n", "aliases are not allowed"),
])
def test_hostile_documents_are_one_integrity_error(text, why):
    with pytest.raises(IntegrityError, match=why):
        yamlsafe.load(text.encode(), "policy.yaml")


def test_nested_mappings_and_lists_are_read_in_full():
    # Built deep, not shallow: a nested value is the finished object, not a placeholder.
    doc = yamlsafe.load(b"a: {b: [1, {c: [2, 3]}], d: {e: {f: x}}}\n", "policy.yaml")
    assert doc == {"a": {"b": [1, {"c": [2, 3]}], "d": {"e": {"f": "x"}}}}


def test_a_file_over_the_cap_is_refused_and_one_at_it_is_not():
    assert yamlsafe.MAX_FILE_BYTES == 64 * 2**20  # the cap docs/format.md states
    yamlsafe.check_size(b"x" * yamlsafe.MAX_FILE_BYTES, "policy.yaml")
    with pytest.raises(IntegrityError, match="larger than 64 MiB"):
        yamlsafe.check_size(b"x" * (yamlsafe.MAX_FILE_BYTES + 1), "policy.yaml")


def test_malformed_yaml_is_named_with_its_line():
    # The list opened on line 3 is still open where the text ends, on line 4.
    with pytest.raises(IntegrityError, match=r"policy.yaml: not valid YAML \(line 4\): "):
        yamlsafe.load(b"a: 1\nb: 2\nc: [\n", "policy.yaml")
