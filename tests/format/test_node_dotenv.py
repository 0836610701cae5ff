"""node's dotenv (16, 17, 18 and 18's fast parser) reads the dotenv export exactly, run for real.

Skipped only where ``node`` is not installed; the releases come from
tests/consumers/node/package-lock.json through ``npm ci`` (see tests/consumers).
"""

import shutil

import pytest
from hypothesis import given, settings

from consumers.cases import HOSTILE, render_or_refuse, stores
from consumers.node import NodeDotenv
from envtrail.format import dotenv, exports

pytestmark = pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")


@pytest.fixture(scope="module")
def node():
    harness = NodeDotenv()
    yield harness
    harness.close()


@settings(max_examples=200, deadline=None)
@given(vals=stores)
def test_every_release_reads_the_dotenv_export_exactly(node, vals):
    text, refused = render_or_refuse(vals, "dotenv")
    carried = {k: v for k, v in vals.items() if k not in refused}
    for release, got in node.parse(text).items():
        assert got == carried, release


def test_awkward_and_hostile_values(node):
    vals = {**{k: v for k, v in HOSTILE.items() if exports.carries("dotenv", k, v)},
            "T_PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
            "T_CRLF_PEM": "-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----\r\n",
            "T_JSON": '{"a": [1, 2]}', "T_SPACES": "  x  ", "T_HASH": "a #b", "T_EMPTY": ""}
    assert len(vals) > 8
    for release, got in node.parse(exports.render(vals, "dotenv")).items():
        assert got == vals, release


@pytest.mark.parametrize("value", [
    "it's \"both\"",   # either quote would end the string for someone
    "a\\\\b",          # python-dotenv decodes \\ in single quotes, node does not
    "ends in \\",      # \' would be read as an escaped quote by python-dotenv
    "cr\r and \\",     # CR needs double quotes, where a backslash is an escape
])
def test_each_refusal_guards_a_real_disagreement(node, value):
    """For a value dotenv refuses, both quotings are misread by python-dotenv or node."""
    from consumers import python_dotenv

    assert dotenv.quote(value) is None
    single = f"T_X='{value}'\nT_Y='next'\n"
    double = 'T_X="' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r") \
        + '"\nT_Y="next"\n'
    for text in (single, double):
        readings = [*python_dotenv.read(text).values(), *node.parse(text).values()]
        assert any(r.get("T_X") != value for r in readings), text
