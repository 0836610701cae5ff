"""The writers keep the size every reader holds a file to (attack33 K3).

An `import` of 52 values of 1 MB (each under the value cap, the input under the input
cap) wrote a 69 MB environment file; from then on every read, sync and write of the
store refused it (exit 5), and a plain push spread that to every clone."""

from conftest import assert_one_line_error, git
from envtrail.format.yamlsafe import MAX_FILE_BYTES


def test_an_import_that_would_write_a_file_no_reader_opens_is_refused(cli, store, tmp_path):
    value = "x" * 1_000_000
    dotenv = tmp_path / "big.env"
    dotenv.write_text("".join(f"V{i}={value}\n" for i in range(52)))
    before = git(store, "rev-parse", "HEAD").strip()
    r = cli("import", str(dotenv), "--env", "production", "--reason", "bulk")
    assert_one_line_error(r, 2)
    assert "envs/production.yaml would be larger than 64 MiB" in r.err
    assert value[:64] not in r.err + r.out
    assert git(store, "rev-parse", "HEAD").strip() == before
    assert git(store, "status", "--porcelain") == ""
    assert cli("verify").code == 0
    # 40 such values fit (a 53 MB file): written, and read back.
    dotenv.write_text("".join(f"V{i}={value}\n" for i in range(40)))
    assert cli("import", str(dotenv), "--env", "production", "--reason", "bulk").code == 0
    assert (store / "envs/production.yaml").stat().st_size <= MAX_FILE_BYTES
    assert cli("get", "V39", "--env", "production").out == value


def test_a_sync_whose_replay_would_not_fit_is_a_conflict(tmp_path, store, cli, bob):
    """attack34 N2: two imports that fit apart replayed into a file over the cap; the walk
    after the replay caught it as an integrity failure (exit 5, "run verify", which said
    ok), every later sync the same, no way out named. It is a conflict, named."""
    from test_sync import head, local_state
    from test_sync_events import world

    a, b, _ = world(tmp_path, store, cli, bob)
    value = "y" * 1_000_000
    for who, prefix in ((a, "A"), (b, "B")):
        dotenv = tmp_path / f"{prefix}.env"
        dotenv.write_text("".join(f"{prefix}{i}={value}\n" for i in range(28)))
        assert who("import", str(dotenv), "--env", "production", "--reason", "bulk").code == 0
    assert a("sync").code == 0
    mine, before = head(b), local_state(b)
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "larger than 64 MiB" in r.err and "envtrail sync" in r.err
    assert head(b) == mine and local_state(b) == before
