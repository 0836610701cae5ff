"""The hook reads a dotenv-like file as a person sees it, and knows the names secrets live in.

Attack 12b, G4: a comment's value behind an NBSP, an ideographic space, a zero-width space
or a colon passed an example file; `.env-production` and `.envrc` were not read at all.
"""

import pytest
from test_hook import commit, hook_env, install_hooks, reachable_text

from conftest import Cli, git, make_app_store
from envtrail.ops.hook import _dotenv_refusal, _envrc_refusal, file_kind, is_example

CANARY = "sk_live_CANARY_g4b7e1"


@pytest.fixture(params=["framework", "plain"])
def hooked_app(request, tmp_path, alice):
    """An application repository with the real pre-commit framework or envtrail's plain hook."""
    root = make_app_store(tmp_path, alice)
    return root, install_hooks(request.param, root, hook_env(tmp_path))


def refused(hooked_app, name, text):
    """Stage and commit ``name``; the hook's output, after checking it refused the commit."""
    root, env = hooked_app
    (root / name).write_text(text, encoding="utf-8")
    r = commit(root, env, name, message="leak")
    said = r.stdout + r.stderr
    assert r.returncode != 0, said
    assert git(root, "log", "-1", "--format=%s").strip() != "leak"
    assert CANARY not in said
    assert CANARY not in reachable_text(root)
    return said


def test_a_comment_value_behind_unicode_spaces_or_a_colon_is_refused(hooked_app):
    said = refused(hooked_app, ".env.example", (
        "STRIPE_KEY=\n"
        f"# STRIPE_KEY=\u00a0{CANARY}\n"        # NBSP, as pasted from a chat or wiki
        f"# STRIPE_KEY=\u3000{CANARY}\n"        # ideographic space
        f"# STRIPE_KEY\u200b={CANARY}\n"        # zero-width space inside the name
        f"# STRIPE_KEY: {CANARY}\n"             # YAML-ish
        "# Note: set this in the vault\n"
        "# see https://example.com/a=b\n"
        "# Format: postgres://user:password@localhost/app\n"))
    assert "refused .env.example: an example file with a value in a comment " \
           "(line 2, 3, 4, 5)\n" in said


def test_prose_comments_pass_in_an_example_file_as_a_colon_value_does_not(hooked_app):
    root, env = hooked_app
    prose = ("# Copy to .env.\u00a0Ask ops for the key.\n"
             "# Note: set this in the vault\n"
             "# see https://example.com/setup?step=2&a=b\n"
             "# Format: postgres://user:password@localhost/app\n"
             "# API_KEY: from the dashboard (Settings > API)\n"
             "# API_KEY: <your key>\n"
             "# TODO: `make setup` fills these\n"
             "# run with --env=production\n"
             "# API_KEY=\u00a0\n"
             "API_KEY=\n")
    (root / ".env.sample").write_text(prose, encoding="utf-8")
    r = commit(root, env, ".env.sample", message="sample")
    assert r.returncode == 0, r.stdout + r.stderr
    said = refused(hooked_app, ".env.sample", prose + f"# API_KEY: {CANARY}\n")
    assert "value in a comment (line 11)\n" in said


def test_the_hook_exits_1_naming_the_file_and_line_never_the_value(hooked_app):
    root, _ = hooked_app
    (root / ".env.template").write_text(f"A=\n\n# A\u200b=\u3000{CANARY}\n", encoding="utf-8")
    git(root, "add", ".env.template")
    r = Cli(root)("hook", "pre-commit", ".env.template")
    assert r.code == 1, r.err
    assert r.err.splitlines()[0] == ("envtrail: refused .env.template: an example file with a "
                                    "value in a comment (line 3)")
    assert CANARY not in r.out + r.err


@pytest.mark.parametrize(("name", "text", "reason"), [
    (".env-production", f"STRIPE_KEY={CANARY}\n", "plaintext dotenv file with values (STRIPE_KEY)"),
    (".env_staging", f"# STRIPE_KEY={CANARY}\n", "a dotenv file that is not an example file"),
    (".envrc", f"use flake\nexport STRIPE_KEY={CANARY}\n", "a direnv file that may set a variable "
                                                           "(line 2)"),
    ("deploy/.envrc.local", f"# STRIPE_KEY: {CANARY}\n", "a direnv file that may set a variable "
                                                         "(line 1)"),
])
def test_secret_file_names_beyond_env_dot_are_read(hooked_app, name, text, reason):
    root = hooked_app[0]
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    said = refused(hooked_app, name, text)
    assert f"refused {name}: {reason}" in said


# Attack 15, J9: editors, file managers and browsers name copies `.env~`, `.env copy`,
# `.env - Copy`, `.env (1)`; each was committed unread, and python-dotenv reads it as a .env.
@pytest.mark.parametrize("name", [".env~", ".env copy", ".env - Copy", ".env (1)", ".env1",
                                  ".ENV~", ".Env Copy", "prod.env~"])
def test_copies_and_backups_of_a_dotenv_file_are_read(hooked_app, name):
    said = refused(hooked_app, name, f"STRIPE_KEY={CANARY}\nDB_PASSWORD={CANARY}x\n")
    assert f"envtrail: refused {name}: plaintext dotenv file with values (DB_PASSWORD, " \
           "STRIPE_KEY)\n" in said


@pytest.mark.parametrize("name", [".envrc~", ".ENVRC (1)"])
def test_copies_and_backups_of_a_direnv_file_are_read(hooked_app, name):
    said = refused(hooked_app, name, f"use flake\nexport GITHUB_TOKEN={CANARY}\n")
    assert f"envtrail: refused {name}: a direnv file that may set a variable (line 2)\n" in said


def test_a_copy_of_an_example_file_is_refused_and_other_words_pass(hooked_app):
    said = refused(hooked_app, ".env.example~", "STRIPE_KEY=\n")
    assert "envtrail: refused .env.example~: a dotenv file that is not an example file" in said
    root, env = hooked_app
    git(root, "reset", "-q", "--", ".env.example~")
    # Code and config whose names merely start with `.env` are not dotenv files.
    (root / ".environment.ts").write_text("export const API_URL = 'https://api.example.com';\n")
    (root / ".envoy.yaml").write_text("static_resources:\n  listeners: []\n")
    r = commit(root, env, ".environment.ts", ".envoy.yaml", message="config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(root, "log", "-1", "--format=%s").strip() == "config"


def test_a_direnv_file_that_only_runs_direnv_passes_and_one_that_sets_a_value_does_not(
        hooked_app):
    root, env = hooked_app
    direnv = ("use flake\nPATH_add bin\ndotenv_if_exists .env.local\n"
              'eval "$(envtrail export --env dev --format shell)"\nexport OPTIONAL_FLAG=\n')
    (root / ".envrc").write_text(direnv)
    r = commit(root, env, ".envrc", message="direnv")
    assert r.returncode == 0, r.stdout + r.stderr
    said = refused(hooked_app, ".envrc", direnv + f"export\u00a0STRIPE_KEY={CANARY}\n")
    assert "instead: set no values in it: load them with `eval \"$(envtrail export" in said
    git(root, "reset", "-q", "--", ".envrc")
    # A dash-separated example file is an example: empty values pass, as `.env.example`'s do.
    (root / ".env-example").write_text("STRIPE_KEY=\n")
    r = commit(root, env, ".env-example", message="example")
    assert r.returncode == 0, r.stdout + r.stderr


def test_which_names_the_hook_reads():
    # name: (a dotenv file, an example of one, a direnv file)
    names = {
        ".env": (True, False, False), ".env.production": (True, False, False),
        ".env-production": (True, False, False), ".env_staging": (True, False, False),
        ".env-example": (True, True, False), ".env_local.sample": (True, True, False),
        "app-template.env": (True, True, False), ".env.example": (True, True, False),
        ".envrc": (False, False, True), "sub/.envrc.local": (False, False, True),
        # Not read: code and config that merely start with "env" (env.py, env.d.ts), and
        # `env.production`, which no common tool reads (documented in git-workflow.md).
        "env.py": (False, False, False), "env.production": (False, False, False),
        ".environment": (False, False, False), ".envrc-ci": (False, False, True),
        # Attack 14, I5: any case (`.ENV` is `.env` on macOS and Windows).
        ".ENV": (True, False, False), ".Env.production": (True, False, False),
        "prod.ENV": (True, False, False), ".ENV-STAGING": (True, False, False),
        ".ENV.EXAMPLE": (True, True, False), "App.Sample.Env": (True, True, False),
        ".ENVRC": (False, False, True), "ci/.EnvRC.Local": (False, False, True),
        "ENV.PY": (False, False, False), ".ENVIRONMENT": (False, False, False),
        # Attack 15, J9: the names tools give copies and backups are the same file.
        ".env~": (True, False, False), ".env copy": (True, False, False),
        ".env - Copy": (True, False, False), ".env (1)": (True, False, False),
        ".env1": (True, False, False), ".env.bak": (True, False, False),
        "prod.env~": (True, False, False), ".ENV~": (True, False, False),
        ".Env Copy": (True, False, False), ".envrc~": (False, False, True),
        ".ENVRC (1)": (False, False, True), ".envrc1": (False, False, True),
        # A copy of an example file is no example (the name cannot say it is still empty).
        ".env.example~": (True, False, False), ".env.example copy": (True, False, False),
        # A letter after `.env`/`.envrc` makes another word.
        ".environment.ts": (False, False, False), ".envoy.yaml": (False, False, False),
        ".Envoy.yaml": (False, False, False), ".envrcs": (False, False, False),
    }
    got = {n: (file_kind(n) == "dotenv", file_kind(n) == "dotenv" and is_example(n),
               file_kind(n) == "envrc") for n in names}
    assert got == names


@pytest.mark.parametrize(("value", "prose"), [
    ("# STRIPE_KEY=\u00a0sk_live_x", "# STRIPE_KEY=\u00a0"),
    ("# STRIPE_KEY=\u3000sk_live_x", "# STRIPE_KEY=\u3000# rotated"),
    ("# STRIPE_KEY\u200b=sk_live_x", "# STRIPE_KEY\u200b="),
    ("# STRIPE_KEY\u00ad=sk_live_x", "# STRIPE_KEY\u00ad=''"),     # soft hyphen (Cf)
    ("#\ufeffSTRIPE_KEY=sk_live_x", "#\ufeffSTRIPE_KEY=\ufeff"),    # BOM (Cf)
    ("# STRIPE_KEY\uff1dsk_live_x", "# STRIPE_KEY\uff1d"),          # fullwidth '='
    ("# STRIPE_KEY=\u2028sk_live_x", "# STRIPE_KEY=\u2028"),        # \s, not folded by NFKC
    ("# STRIPE_KEY: sk_live_x", "# STRIPE_KEY: from the dashboard"),
    ("# STRIPE_KEY\uff1a\u00a0sk_live_x", "# STRIPE_KEY\uff1a\u00a0see README"),
    ("# api_key: sk_live_x", "# Note: set this in the vault"),
    ("# DB_URL: postgres://u:pw@db/app", "# Format: postgres://user:password@host/db"),
    ("# PORT: 8080", "# TODO: 8080 is the default"),
    ("# TOKEN: xKqPzRtYwV", "# TOKEN: Required"),
    ("# e.g. A=b", "# see https://example.com/a=b"),
    ("# run with API_KEY=x", "# run with --env=production"),
])
def test_what_counts_as_a_value_in_a_comment_seen_as_a_reader_sees_it(value, prose):
    for line, holds in ((value, True), (prose, False)):
        r = _dotenv_refusal(".env.example", f"A=\n{line}\n".encode())
        assert (r is not None and r.reason.endswith("value in a comment (line 2)")) is holds, line
        assert r is None or "sk_live" not in r.reason + r.instead


def test_a_direnv_file_envtrail_cannot_read_is_refused():
    r = _envrc_refusal(".envrc", b"export STRIPE_KEY=sk_live_\xff\n")
    assert r is not None and r.reason == "a direnv file envtrail cannot read; it may hold secrets"


# Attack 14, I5: names were matched case-sensitively, so `.ENV` (the `.env` every loader
# opens where the file system ignores case) and `.ENVRC` were committed unread.
@pytest.mark.parametrize(("name", "text", "reason"), [
    (".ENV", f"STRIPE_KEY={CANARY}\n", "plaintext dotenv file with values (STRIPE_KEY)"),
    (".ENVRC", f"export GITHUB_TOKEN={CANARY}\n", "a direnv file that may set a variable "
                                                  "(line 1)"),
])
def test_upper_case_dotenv_and_direnv_files_are_read(hooked_app, name, text, reason):
    said = refused(hooked_app, name, text)
    assert f"envtrail: refused {name}: {reason}\n" in said


# Attack 14, I1: bash sets variables in more ways than NAME=value. A committed .envrc
# holds only lines on an allow-list; the rest is refused by line number.
@pytest.mark.parametrize(("name", "text", "line"), [
    (".envrc", f"use flake\nexport STRIPE_KEY+={CANARY}\n", 2),
    (".envrc.local", f': "${{DB_PASSWORD:={CANARY}}}"\nexport DB_PASSWORD\n', 1),
    (".envrc-ci", f"read -r GITHUB_TOKEN <<< {CANARY}\nexport GITHUB_TOKEN\n", 1),
])
def test_a_direnv_file_that_sets_a_value_in_other_shell_forms_is_refused(
        hooked_app, name, text, line):
    said = refused(hooked_app, name, text)
    assert f"envtrail: refused {name}: a direnv file that may set a variable (line {line})\n" \
        in said


COMMITTED_ENVRCS = [
    "use flake\n",
    "use flake . --impure\nwatch_file flake.nix flake.lock\n",
    "layout python python3.11\nPATH_add bin\n",
    "layout poetry\n\n# local overrides, kept out of git\nsource_env_if_exists .envrc.local\n",
    "dotenv_if_exists\ndotenv_if_exists .env.local\nsource_up\nstrict_env\n",
    "if ! has nix_direnv_version || ! nix_direnv_version 3.0.4; then\n"
    '  source_url "https://raw.githubusercontent.com/nix-community/nix-direnv/3.0.4/direnvrc" '
    '"sha256-DzlYZ33mWF/Gs8DDeyjr8mnVmQGx7ASYqA5WlxwvBG4="\nfi\nuse flake .#dev\n',
    "if has nix; then use nix; fi\nPATH_add \"$PWD/node_modules/.bin\"\n",
    'export OPTIONAL_FLAG=\nexport EMPTY=""\nexport OTHER NEXT\nunset OLD_VAR\n'
    'eval "$(envtrail export --env dev --format shell)"\n',
    "env_vars_required STRIPE_KEY DB_URL   # set by envtrail export\nwatch_dir config\n",
]


@pytest.mark.parametrize("line", [
    f"export STRIPE_KEY+={CANARY}",
    f': "${{DB_PASSWORD:={CANARY}}}"',
    f': "${{DB_PASSWORD={CANARY}}}"',
    f"use flake ${{TOKEN:-{CANARY}}}",
    f"read -r GITHUB_TOKEN <<< {CANARY}",
    f"printf -v TOKEN %s {CANARY}",
    f"declare -x TOKEN+={CANARY}",
    f"alias deploy='STRIPE_KEY+={CANARY} ./deploy'",
    "cat > .token <<EOF",
    "eval \"$(cat ~/.secrets)\"",
    f"use flake; export TOKEN+={CANARY}",
    "use flake \\",
    f"use\u00a0flake TOKEN+={CANARY}",
    f"  # -STRIPE_KEY={CANARY}",
])
def test_a_direnv_file_passes_only_lines_on_the_allow_list(line):
    for text in COMMITTED_ENVRCS:
        assert _envrc_refusal(".envrc", text.encode()) is None, text
    r = _envrc_refusal(".envrc", f"use flake\n{line}\nPATH_add bin\n".encode())
    assert r is not None and r.reason.endswith("set a variable (line 2)"), line
    assert CANARY not in r.reason + r.instead


# Attack 14, I1: a name right after a lone "-" or an "e.g." was taken for part of a flag.
@pytest.mark.parametrize(("value", "prose"), [
    (f"# -STRIPE_KEY={CANARY}", "# run with --env=production"),
    (f"#-STRIPE_KEY={CANARY}", "# see foo-bar=baz in the docs"),
    (f"# e.g.AWS_SECRET_ACCESS_KEY={CANARY}", "# see a/b.c=d"),
    (f"# E.g.STRIPE_KEY={CANARY}", "# see https://example.com/x.y.z=1"),
    (f"# i.e.TOKEN: {CANARY}", "# host db.example.internal:5432"),
    (f"# -STRIPE_KEY: {CANARY}", "# -Dspring.profiles.active=prod"),
])
def test_a_name_after_a_lone_dash_or_an_abbreviation_is_a_variable(value, prose):
    for line, holds in ((value, True), (prose, False)):
        r = _dotenv_refusal(".env.example", f"A=\n{line}\n".encode())
        assert (r is not None and r.reason.endswith("value in a comment (line 2)")) is holds, line
        assert r is None or CANARY not in r.reason + r.instead


def test_an_example_file_with_a_dashed_or_abbreviated_comment_value_is_refused(hooked_app):
    said = refused(hooked_app, ".env.example", f"STRIPE_KEY=\n# -STRIPE_KEY={CANARY}\n"
                                              f"# e.g.AWS_SECRET_ACCESS_KEY={CANARY}\n")
    assert "envtrail: refused .env.example: an example file with a value in a comment " \
           "(line 2, 3)\n" in said
