"""Griffe extension: the package's docstrings as mkdocstrings renders them best.

The docstrings follow Google style with two habits of Sphinx that Markdown does not know: roles
such as :meth:`save` or :class:`ConfigError`, rendered here as code, and doctest examples
(``>>>`` lines) outside an ``Examples:`` section, wrapped here in a ``pycon`` code block so that
they do not turn into nested quotes; and a paragraph ending in ``::`` before an indented code
block, which ends in one colon here (Markdown shows the indented block as code by itself). The
source is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:meth|class|func|data|mod|attr|exc|obj):`~?([^`]+)`")


def convert(text: str) -> str:
    """``text`` with roles as code spans and doctest blocks fenced."""
    text = ROLE.sub(r"`\1`", text)
    lines = text.split("\n")
    out: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.rstrip().endswith("::"):  # reStructuredText's literal block marker
            line = line.rstrip()
            line = line[:-3].rstrip() if line.endswith(" ::") or line.strip() == "::" else line[:-1]
            if not line.strip():
                i += 1
                continue
        if not fenced and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            out += [f"{indent}```pycon", *lines[i:j], f"{indent}```"]
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DocstringStyle(griffe.Extension):
    """Rewrites every loaded object's docstring with :func:`convert`."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Griffe event, for every object once the package is loaded."""
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
