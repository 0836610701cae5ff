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
