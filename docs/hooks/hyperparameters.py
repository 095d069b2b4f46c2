"""MkDocs hook: hyperparameter tables generated from the config dataclasses.

A page writes a marker on a line of its own,

    <!-- hyperparameters: cem tabular -->          an algorithm and policy kind of the registry
    <!-- hyperparameters: policysearch.optim.es.ESConfig -->   or a dataclass by its dotted path

and the build replaces it with a table of every field of the class (name, type, default, the
range its ``__post_init__`` checks, and the ``#:`` comment above the field in the source), so the
docs list exactly the fields the code has, followed by the class's ``aliases`` and former names
(``renamed``). Fields inherited from a base dataclass are read from
the base's source. A field without a ``#:`` comment, or a marker naming nothing, fails the build.

``table(cls)`` is also what the tests call.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import textwrap
import typing
from typing import Any

# The marker's own line only: ``[ \t]*`` rather than ``\s*`` at the end, which would also match the
# line breaks after it and join the table to the next paragraph or heading.
MARKER = re.compile(r"^<!--[ \t]*hyperparameters:[ \t]*(?P<what>[^>\n]+?)[ \t]*-->[ \t]*$", re.MULTILINE)


def config_class(what: str) -> type:
    """The dataclass a marker names: ``ALGO POLICY`` through the registry, or a dotted path."""
    parts = what.split()
    if len(parts) == 2:
        from policysearch.registry import resolve

        cls: type = resolve(parts[0], parts[1]).config_class
        return cls
    module, _, name = what.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"hyperparameters marker {what!r} names no class: {exc}") from None
    if not dataclasses.is_dataclass(found):
        raise ValueError(f"hyperparameters marker {what!r} does not name a dataclass")
    return typing.cast(type, found)


def _class_node(cls: type) -> tuple[ast.ClassDef, list[str]]:
    source = textwrap.dedent(inspect.getsource(cls))
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ClassDef)
    return node, source.splitlines()


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment block right above each annotated field, for ``cls`` and its bases."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        node, lines = _class_node(klass)
        for statement in node.body:
            if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
                continue
            block: list[str] = []
            row = statement.lineno - 2  # the line above, 0-based
            while row >= 0 and lines[row].strip().startswith("#:"):
                block.insert(0, lines[row].strip()[2:].strip())
                row -= 1
            if block:
                comments[statement.target.id] = " ".join(block)
    return comments


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise LookupError from None


def field_ranges(cls: type) -> dict[str, str]:
    """The range each field is checked against by ``check_range`` calls in ``__post_init__``.

    Only unconditional calls with literal bounds count; a call inside a ``for`` loop checks
    every entry of a sequence field. Calls under an ``if`` are left out (the range holds only
    sometimes, and the field's doc says when). The ``_check_*`` methods that ``__post_init__``
    calls are read the same way, and calls of ``self._check_*(name, value, low, ...)`` (a check
    a subclass may widen to allow ``auto``, as ES's ``_check_tunable``) count as ``check_range``.
    """
    ranges: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        checks = [name for name in vars(klass) if name == "__post_init__" or name.startswith("_check")]
        if not checks:
            continue
        node, _ = _class_node(klass)
        body = [
            statement
            for method in node.body
            if isinstance(method, ast.FunctionDef) and method.name in checks
            for statement in method.body
        ]
        for statement, each in _unconditional(body):
            call = statement.value if isinstance(statement, ast.Expr) else None
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            widened = isinstance(func, ast.Attribute) and func.attr.startswith("_check")
            if getattr(func, "id", None) != "check_range" and not widened:
                continue
            try:
                name = _literal(call.args[0])
                bounds = [_literal(a) for a in call.args[2:4]]
                keywords = {k.arg: _literal(k.value) for k in call.keywords}
            except LookupError:
                continue
            bounds += [None] * (2 - len(bounds))
            low = keywords.get("low", bounds[0])
            high = keywords.get("high", bounds[1])
            text = _interval(low, high, bool(keywords.get("low_open")), bool(keywords.get("high_open")))
            if text:
                ranges[name] = f"each {text}" if each else text
    return ranges


def _unconditional(body: list[ast.stmt], each: bool = False) -> typing.Iterator[tuple[ast.stmt, bool]]:
    for statement in body:
        if isinstance(statement, ast.For):
            yield from _unconditional(statement.body, True)
        elif not isinstance(statement, ast.If):
            yield statement, each


def _number(value: float) -> str:
    return f"{value:g}"


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {_number(low)}"  # type: ignore[arg-type]
    if low is None:
        return f"{'<' if high_open else '<='} {_number(high)}"
    return f"{'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"


def _type_text(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return " or ".join(f"`{v}`" for v in typing.get_args(hint))
    if origin is tuple:
        return f"list of {_type_text(typing.get_args(hint)[0])}"
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_text(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _markdown(text: str) -> str:
    """A ``#:`` comment as Markdown in a table cell.

    ``code`` in single backticks, Sphinx roles such as :data:`AUTO` as plain code, pipes escaped.
    """
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("|", "\\|")


def table(cls: type) -> str:
    """The Markdown table of ``cls``'s fields.

    Raises:
        ValueError: if a field has no ``#:`` comment.
    """
    comments = field_comments(cls)
    ranges = field_ranges(cls)
    hints = typing.get_type_hints(cls)
    rows = ["| hyperparameter | type | default | range | meaning |", "| --- | --- | --- | --- | --- |"]
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.name not in comments:
            raise ValueError(f"{cls.__qualname__}.{field.name} has no '#:' comment to document it")
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        cells = [
            f"`{field.name}`",
            _markdown(_type_text(hints[field.name])),
            f"`{_value_text(default)}`",
            ranges.get(field.name, ""),
            _markdown(comments[field.name]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    aliases = getattr(cls, "aliases", None)
    if isinstance(aliases, dict) and aliases:
        names = ", ".join(f"`{old}` for `{new}`" for old, new in sorted(aliases.items()))
        rows += ["", f"Other names accepted: {names}."]
    renamed = getattr(cls, "renamed", None)
    if isinstance(renamed, dict) and renamed:
        names = ", ".join(f"`{old}` (now `{getattr(r, 'new', r)}`)" for old, r in sorted(renamed.items()))
        rows += ["", f"Former names, still accepted with a deprecation warning: {names}."]
    return "\n".join(rows)


def _block(marker: re.Match[str]) -> str:
    """A marker's table and notes in a ``hyperparameters`` block (md_in_html; extra.css styles it).

    Blank lines set it apart: a table ends at the first blank line, so without one after it the
    next line (a heading, a paragraph) would become one of its rows.
    """
    return (
        f'\n<div class="hyperparameters" markdown>\n\n{table(config_class(marker.group("what")))}\n\n</div>\n'
    )


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: replace every marker with its table."""
    return MARKER.sub(_block, markdown)
