"""Every command of the README's quick start works as written (budgets appended to keep it short).

The commands run from a fresh folder, so the run folders they name (runs/...) are their own.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
#: Appended to every ``train`` command of the quick start, and nothing else is changed.
BUDGET = ["--max-iterations", "2"]


def quick_start() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("\n\n", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line.strip())
        if line.startswith(".venv/bin/policysearch"):
            commands.append(shlex.split(line))
    return commands


def test_the_quick_start_has_commands() -> None:
    commands = quick_start()
    assert len(commands) >= 5
    assert {c[1] for c in commands} >= {"train", "evaluate", "record"}


@pytest.mark.slow
def test_every_quick_start_command_works_as_written(tmp_path: Path) -> None:
    for command in quick_start():
        args = command[1:] + (BUDGET if command[1] == "train" else [])
        done = subprocess.run(
            [sys.executable, "-m", "policysearch", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
    assert (tmp_path / "cartpole.mp4").is_file()
