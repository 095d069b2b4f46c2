"""The command line, and what only the commands do: ``policysearch train | evaluate | record | ...``.

- :mod:`~policysearch.cli.app`: the typer app, one function per command (``policysearch --help``);
- :mod:`~policysearch.cli.main`: :func:`main`, which runs a command and maps errors to exit
  statuses and one-line messages;
- :mod:`~policysearch.cli.supervisor`: runs a Ray command in a child process, so that a lost head
  still ends it with one line and exit 2;
- :mod:`~policysearch.cli.video`: ``policysearch record``, a video of one greedy episode.
"""

from __future__ import annotations

from .app import app
from .main import main

__all__ = ["app", "main"]
