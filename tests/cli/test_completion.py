"""`crm completion bash|zsh|fish`: scripts generated from the parser, syntactically checked by the
shells themselves, and bash's actually completing; `crm --version`."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from crm_tui import __version__


def script(crm, shell: str) -> str:
    result = crm("completion", shell)
    assert result.code == 0, result.err
    return result.out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_are_valid_shell(crm, shell, tmp_path):
    text = script(crm, shell)
    assert "report" in text and "lost-reasons" in text and "--period" in text
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed; the script is generated but not checked")
    path = tmp_path / f"crm.{shell}"
    path.write_text(text, encoding="utf-8")
    checked = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def complete(bash_script: str, words: list[str], tmp_path) -> list[str]:
    path = tmp_path / "crm.bash"
    path.write_text(bash_script, encoding="utf-8")
    quoted = " ".join(f"'{w}'" for w in words)
    program = (f"source '{path}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _crm; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_choices(crm, tmp_path):
    text = script(crm, "bash")
    assert complete(text, ["crm", "rep"], tmp_path) == ["report"]
    assert complete(text, ["crm", "contacts", "li"], tmp_path) == ["list"]
    assert "lost-reasons" in complete(text, ["crm", "report", ""], tmp_path)
    assert complete(text, ["crm", "report", "forecast", "--period", "this-q"], tmp_path) == ["this-quarter"]
    # an option's value is skipped: --db FILE does not stop the walk
    assert complete(text, ["crm", "--db", "x.sqlite3", "export", "activities", "--ta"], tmp_path) == ["--tasks"]
    assert complete(text, ["crm", "completion", ""], tmp_path) == ["bash", "zsh", "fish", "-h", "--help", "--json"]


def test_version(crm_process):
    result = crm_process("--version")
    assert result.code == 0
    assert result.out.strip() == f"crm-tui {__version__}"
