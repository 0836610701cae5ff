from conftest import git


def test_set_get_roundtrip(cli, store):
    r = cli("set", "API_KEY", "--env", "production", "--reason", "first", input="abc\n")
    assert r.code == 0, r.err
    r = cli("get", "API_KEY", "--env", "production")
    assert (r.code, r.out) == (0, "abc")
    assert git(store, "status", "--porcelain") == ""
