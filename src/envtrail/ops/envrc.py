"""The lines of a direnv ``.envrc`` the pre-commit hook lets into git: an allow-list.

A ``.envrc`` is a bash script, and bash has more ways to give a variable a
value than any list of them would hold (``NAME+=v``, ``: "${NAME:=v}"``,
``read NAME <<< v``, ``printf -v NAME v``, here-documents). So the hook does
not look for assignments in it; it lets through only lines that are blank, a
comment, or direnv's own commands that take no value, and refuses the rest.

The line is matched as bash reads it (ASCII only, no folding): a character
outside plain ASCII in code, a quote left open, a ``\\`` continuation, a
``$(...)``, a redirection or a ``${NAME...}`` with an operator is not on the
list. Comments are read for values elsewhere (``plaintext.commented_values``).
"""

from __future__ import annotations

import re

from envtrail.ops import plaintext

# direnv stdlib commands that read files, paths or tools and set no variable to an
# argument's text. Left out: `path_add VAR ...` (names the variable it sets),
# `log_status`/`log_error` (print their text), `direnv_load`/`fetchurl` (run or fetch).
COMMANDS = ("use", "layout", "has", "dotenv", "dotenv_if_exists", "source_env",
            "source_env_if_exists", "source_up", "source_up_if_exists", "source_url",
            "env_vars_required", "watch_file", "watch_dir", "PATH_add", "MANPATH_add",
            "PATH_rm", "load_prefix", "on_git_branch", "strict_env", "unstrict_env",
            "direnv_version", "nix_direnv_version")
_NAME = r"[A-Za-z_]\w*"
# A bare `$NAME` or `${NAME}` reads a variable; any other `$` form may set one.
_REF = rf"\$(?:{_NAME}|\{{{_NAME}\}})"
_CHAR = r"[\w./:@%+,~=*-]"
_WORD = (rf"(?:{_CHAR}|{_REF})(?:{_CHAR}|#|{_REF})*"       # `#` inside a word is no comment
         rf"|\"(?:{_CHAR}|[ #]|{_REF})*\"|'(?:{_CHAR}|[ #$])*'")
_COMMAND = rf"(?:{'|'.join(sorted(COMMANDS, key=len, reverse=True))})(?:[ \t]+(?:{_WORD}))*"
# `export NAME`, `export NAME=` or `export NAME=""`: exported, never given a value here.
_EXPORT = rf"(?:export|unset)(?:[ \t]+{_NAME}(?:=(?:''|\"\")?)?)+"
_EVAL = r"eval[ \t]+\"\$\(envtrail[ \t]+export(?:[ \t]+[\w./:@%+,~=-]+)*\)\""
_STEP = rf"(?:(?:if|elif|then|else|!)[ \t]+)*(?:{_COMMAND}|{_EXPORT}|{_EVAL})|then|else|fi"
_LINE = re.compile(rf"[ \t]*(?:(?:{_STEP})(?:[ \t]*(?:;|&&|\|\|)[ \t]*(?:{_STEP}))*[ \t]*;?)?"
                   rf"[ \t]*(?:(?<![^ \t])#.*)?", re.ASCII)


def unlisted_lines(text: str) -> list[int]:
    """Numbers (from 1) of the lines of a ``.envrc`` that are not on the allow-list."""
    return [n for n, line in enumerate(plaintext.lines(text), 1) if not _LINE.fullmatch(line)]


def refused_lines(text: str) -> list[int]:
    """Lines that are off the list, or that give a variable a value in a comment."""
    return sorted(set(unlisted_lines(text)) | set(plaintext.assigned_values(text)))
