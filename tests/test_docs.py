"""The documentation: the tutorial notebook runs, the generated tables cover every field, links resolve."""

import dataclasses
import importlib.util
import re
from pathlib import Path

import nbclient
import nbformat
import pytest

from policysearch.optim import ESConfig
from policysearch.registry import implementations, resolve

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def load_hook():
    path = DOCS / "hooks" / "hyperparameters.py"
    spec = importlib.util.spec_from_file_location("hyperparameters_hook", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIGS = sorted(
    {cls.config_class for _, _, cls in implementations()} | {ESConfig},
    key=lambda c: c.__qualname__,
)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__qualname__)
def test_hyperparameter_table_lists_every_field(config) -> None:
    hook = load_hook()
    table = hook.table(config)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    names = [row.split("`")[1] for row in rows]
    assert names == [f.name for f in dataclasses.fields(config) if f.init]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert len(cells) == 5, row
        assert cells[4], f"empty doc in {row}"


def test_hyperparameter_table_reads_comments_ranges_and_inherited_fields() -> None:
    hook = load_hook()
    es_policy = resolve("es", "mlp").config_class
    table = hook.table(es_policy)
    # population is inherited from the black-box ESConfig: its comment and range come from there
    assert "| `population` | int | `50` | >= 2 | Candidates per iteration" in table
    assert "| `momentum` | float | `0.9` | [0, 1) |" in table
    assert "each >= 1" in table  # hidden: every entry is checked in a loop
    # sigma is checked in the _check_sigma hook, which the policy search widens to allow auto
    assert "| `sigma` | float or `auto` | `auto` | > 0 | Initial standard deviation" in table
    assert ":data:" not in table  # Sphinx roles render as code
    for old in getattr(es_policy, "renamed", {}):
        assert f"`{old}` (now" in table  # former names are listed


def test_hyperparameter_marker_fails_on_unknown_names() -> None:
    hook = load_hook()
    with pytest.raises(ValueError, match="names no class"):
        hook.on_page_markdown("<!-- hyperparameters: policysearch.nowhere.Config -->\n")
    with pytest.raises(Exception, match="unknown algorithm"):
        hook.on_page_markdown("<!-- hyperparameters: nothing mlp -->\n")


def test_field_without_comment_fails() -> None:
    hook = load_hook()

    @dataclasses.dataclass
    class Undocumented:
        #: Documented.
        a: int = 1
        b: int = 2

    with pytest.raises(ValueError, match=r"Undocumented\.b has no '#:' comment"):
        hook.table(Undocumented)


LINK = re.compile(r"\]\(([^)\s]+)\)")
RELATIVE_PATH = re.compile(r"`(\.\./[^`\s]*)`")


def relative_targets(path: Path) -> list[str]:
    text = path.read_text()
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    return targets + RELATIVE_PATH.findall(text)


def test_readme_is_a_short_landing_page_whose_links_resolve() -> None:
    readme = REPO / "README.md"
    lines = readme.read_text().splitlines()
    assert len(lines) < 220
    assert lines[2].strip().startswith("make run") and lines[3].strip().startswith("make test")
    targets = relative_targets(readme)
    assert targets, "the README links to the docs"
    for target in targets:
        resolved = (REPO / target.split("#")[0]).resolve()
        assert resolved.exists(), f"README links to {target}, which does not exist"
        assert resolved.is_relative_to(REPO), f"README sends the reader outside the repository: {target}"


def test_docs_never_point_outside_the_repository() -> None:
    for page in [REPO / "README.md", *DOCS.rglob("*.md"), REPO / "benchmarks" / "README.md"]:
        for target in relative_targets(page):
            resolved = (page.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(REPO), f"{page.relative_to(REPO)} points outside: {target}"


@pytest.mark.slow
def test_tutorial_notebook_runs_top_to_bottom(tmp_path) -> None:
    notebook = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
