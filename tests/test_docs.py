"""The documentation: the tutorial notebook runs, the generated tables cover every field, links resolve,
and the built site reads as it should (tables end where they do, formulas are math, MathJax is its own)."""

import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from policysearch.optim import ESConfig
from policysearch.registry import implementations, resolve

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def load_hook(name: str = "hyperparameters"):
    """The MkDocs hook ``docs/hooks/NAME.py``, loaded by its path."""
    path = DOCS / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_hook", path)
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
    # sigma is checked by _check_tunable, which the policy search widens to allow auto
    assert "| `sigma` | float or `auto` | `auto` | > 0 | Initial standard deviation" in table
    assert "| `weight_decay` | float or `auto` | `auto` | >= 0 |" in table
    assert ":data:" not in table  # Sphinx roles render as code
    for old in getattr(es_policy, "renamed", {}):
        assert f"`{old}` (now" in table  # former names are listed


def test_hyperparameter_marker_fails_on_unknown_names() -> None:
    hook = load_hook()
    with pytest.raises(ValueError, match="names no class"):
        hook.on_page_markdown("<!-- hyperparameters: policysearch.nowhere.Config -->\n")
    with pytest.raises(Exception, match="unknown algorithm"):
        hook.on_page_markdown("<!-- hyperparameters: nothing mlp -->\n")


@pytest.mark.parametrize("after", ["\n## Next\n", "## Next\n", "Former text.\n"])
def test_hyperparameter_table_ends_before_what_follows_its_marker(after: str) -> None:
    hook = load_hook()
    page = "Intro:\n<!-- hyperparameters: policysearch.optim.es.ESConfig -->\n" + after
    lines = hook.on_page_markdown(page).splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert lines[rows[0] - 1] == "" and lines[rows[-1] + 1] == ""  # blank lines around the table
    assert lines[-1] == after.strip()


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


@pytest.fixture(scope="module")
def fresh_tutorial():
    """The tutorial notebook run top to bottom now (CellExecutionError, naming the cell, if one fails)."""
    return load_hook("tutorial").execute()


@pytest.mark.slow
def test_tutorial_notebook_runs_top_to_bottom(fresh_tutorial) -> None:
    outputs = [o for cell in fresh_tutorial.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]


@pytest.mark.slow
def test_tutorial_notebook_shows_what_the_code_prints_today(fresh_tutorial) -> None:
    """The saved outputs (what the site shows) are what the code prints today, compared on the
    kind of CPU they were saved on (`make notebook` saves them again)."""
    tutorial = load_hook("tutorial")
    saved = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    saved_on = saved.metadata.get("policysearch", {}).get("outputs_cpu")
    assert saved_on, "docs/tutorial.ipynb has no saved outputs' CPU: run `make notebook`"
    if saved_on != tutorial.cpu():
        pytest.skip(f"the outputs were saved on another kind of CPU ({saved_on}), which may round otherwise")
    stale = [
        (k, before, after)
        for k, (before, after) in enumerate(
            zip(tutorial.text_outputs(saved), tutorial.text_outputs(fresh_tutorial), strict=True)
        )
        if before != after
    ]
    assert not stale, f"the tutorial's saved outputs are not today's (run `make notebook`): {stale[:3]}"


def test_the_tutorials_text_outputs_name_its_work_folder_alike() -> None:
    tutorial = load_hook("tutorial")
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output("stream", text="run folders in /tmp/policysearch-tutorial-ab_12x\n"),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("stream", text="done\n"),
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    assert tutorial.text_outputs(notebook) == [["run folders in WORK\ndone\n"]]


# -- the built site -------------------------------------------------------------------------------


# The tests of the built site share one build: one xdist worker runs them all (--dist loadgroup).
built_site = pytest.mark.xdist_group("docs-site")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make docs` builds it (strict), into a temporary folder.

    With POLICYSEARCH_DOCS_SITE set, the site already built there is inspected instead.
    """
    built = os.environ.get("POLICYSEARCH_DOCS_SITE")
    if built:
        return Path(built)
    folder = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-3000:]}"
    return folder


@dataclasses.dataclass
class Page:
    """What the tests read from one built page."""

    tables: list[list[list[str]]] = dataclasses.field(default_factory=list)  # rows of cell texts
    headings: list[str] = dataclasses.field(default_factory=list)  # in the article
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    math: list[str] = dataclasses.field(default_factory=list)  # arithmatex spans and divs
    scripts: list[str] = dataclasses.field(default_factory=list)  # src of every script, in order
    inline_scripts: list[str] = dataclasses.field(default_factory=list)
    links: list[str] = dataclasses.field(default_factory=list)  # href of every link element


class PageParser(HTMLParser):
    """Collects a page's tables, headings, paragraphs, math and scripts (html.parser only)."""

    VOID = frozenset({"br", "img", "input", "hr", "meta", "link", "wbr", "source", "col"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.capture: list[tuple[str, list[str]]] = []  # open elements whose text is collected

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src") is not None:
            self.page.scripts.append(attributes["src"] or "")
        if tag == "link" and attributes.get("href"):
            self.page.links.append(attributes["href"] or "")
        if tag in self.VOID:
            return
        self.stack.append(tag)
        classes = (attributes.get("class") or "").split()
        if tag == "table":
            self.page.tables.append([])
        elif tag == "tr" and self.page.tables:
            self.page.tables[-1].append([])
        if tag in {"td", "th", "p", "h1", "h2", "h3", "h4", "h5", "h6", "script"} or (
            "arithmatex" in classes
        ):
            self.capture.append(("arithmatex" if "arithmatex" in classes else tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            self.finish(open_tag)
            if open_tag == tag:
                break

    def finish(self, tag: str) -> None:
        if not self.capture:
            return
        kind, parts = self.capture[-1]
        expected = {"arithmatex": ("span", "div")}.get(kind, (kind,))
        if tag not in expected:
            return
        self.capture.pop()
        text = "".join(parts).strip()
        if kind in {"td", "th"} and self.page.tables and self.page.tables[-1]:
            self.page.tables[-1][-1].append(text)
        elif kind == "p":
            self.page.paragraphs.append(text)
        elif kind == "arithmatex":
            self.page.math.append(text)
        elif kind == "script":
            self.page.inline_scripts.append(text)
        elif "article" in self.stack:
            self.page.headings.append(text.rstrip("¶").strip())

    def handle_data(self, data: str) -> None:
        for _, parts in self.capture:
            parts.append(data)


def parse(path: Path) -> Page:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser.page


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[str, Page]:
    """Every built HTML page by its path in the site (``algorithms/es.html``)."""
    return {str(p.relative_to(site)): parse(p) for p in sorted(site.rglob("*.html"))}


def markdown_headings(path: Path) -> list[str]:
    """The ATX headings of a Markdown page, outside fenced code blocks."""
    headings, fence = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker and (not fence or marker.group(1).startswith(fence)):
            fence = "" if fence else marker.group(1)
            continue
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*$", line)
        if not fence and heading:
            headings.append(heading.group(1))
    return headings


def _plain(heading: str) -> str:
    """A heading's text without Markdown code, links or emphasis."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[`*_]", "", heading).strip()


GENERATED_NOTES = ("Former names", "Other names accepted")


class LinkParser(HTMLParser):
    """A page's link targets (every tag's href and src) and element ids, from its tags only."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src"} and value:
                self.targets.append(value)
            elif name == "id" and value:
                self.ids.add(value)


def links_of(path: Path) -> LinkParser:
    parser = LinkParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


@built_site
def test_every_local_link_and_image_of_the_site_resolves(site: Path) -> None:
    """Every relative href and src of every page names a file of the site, and its #anchor an id
    there (mkdocs --strict checks the Markdown pages' links, not the notebook's, nor the anchors
    that hooks and plugins write). The 404 page's links are from the server's root, left out."""
    from urllib.parse import unquote

    root = site.resolve()
    parsed = {page: links_of(page) for page in sorted(root.rglob("*.html"))}
    problems = []
    for page, parser in parsed.items():
        if page.name == "404.html":
            continue
        for link in parser.targets:
            if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|//", link):
                continue  # another site, or a data: URI
            path, _, anchor = link.partition("#")
            target = (page.parent / unquote(path.split("?")[0])).resolve() if path else page
            where = f"{page.relative_to(root)}: {link}"
            if not target.is_relative_to(root) or not target.is_file():
                problems.append(f"{where}: no such file in the site")
            elif anchor and target.suffix == ".html":
                if unquote(anchor) not in parsed[target].ids:
                    problems.append(f"{where}: no such anchor")
    assert not problems, "\n".join(problems)


@built_site
def test_built_tables_hold_only_table_rows(pages: dict[str, Page]) -> None:
    """No heading or paragraph after a table is swallowed as one of its rows."""
    assert "algorithms/es.html" in pages
    problems = []
    for name, page in pages.items():
        for table in page.tables:
            header, rows = table[0], table[1:]
            for row in rows:
                where = f"{name}: row {row}"
                if len(row) != len(header):
                    problems.append(f"{where} has {len(row)} cells, the header {len(header)}")
                if any(cell.startswith("#") for cell in row):
                    problems.append(f"{where} holds a Markdown heading")
                if any(note in cell for cell in row for note in GENERATED_NOTES):
                    problems.append(f"{where} holds a paragraph the hook writes after the table")
                # A paragraph line swallowed by a table is one cell of text, the rest padded empty.
                if len(header) >= 3 and all(header) and row[0] and not any(row[1:]):
                    problems.append(f"{where} is a line of text, not a row")
    assert not problems, "\n".join(problems)


@built_site
def test_built_pages_keep_every_heading(pages: dict[str, Page]) -> None:
    """Every heading of a Markdown page is a heading of the built page (and so in its contents)."""
    for source in sorted(DOCS.rglob("*.md")):
        name = str(source.relative_to(DOCS).with_suffix(".html"))
        if name not in pages:
            continue  # not a page (the hooks' folder is excluded)
        built = pages[name].headings
        missing = [h for h in markdown_headings(source) if not any(_plain(h) == _plain(b) for b in built)]
        assert not missing, f"{name} lost the headings {missing} (built: {built})"


@built_site
def test_hyperparameter_notes_are_paragraphs_of_their_own(pages: dict[str, Page]) -> None:
    """The hook's notes after a table (other and former names) do not run into the next paragraph."""
    notes = [p for page in pages.values() for p in page.paragraphs if p.startswith(GENERATED_NOTES)]
    assert notes, "the hook's notes on other and former names are on the algorithm pages"
    for note in notes:
        assert "\n" not in note and note.endswith("."), f"a paragraph ran into the note: {note!r}"


ALGORITHM_PAGES = [
    "algorithms/tabular-cem.html",
    "algorithms/cem.html",
    "algorithms/es.html",
    "algorithms/cmaes.html",
    "algorithms/ars.html",
]
MATH_SCRIPT = "javascripts/mathjax/tex-svg.js"


@built_site
def test_formulas_are_math_on_the_algorithm_and_concept_pages(pages: dict[str, Page]) -> None:
    """The lecture's formulas are arithmatex math, and each algorithm page sets its update beside
    the code that implements it."""
    for name in [*ALGORITHM_PAGES, "algorithms/policies.html", "guide/concepts.html"]:
        assert pages[name].math, f"{name} has no formula marked up as math"
    for name in ALGORITHM_PAGES:
        assert "The update beside its code" in pages[name].headings, name
    es = " ".join(pages["algorithms/es.html"].math)
    assert r"\frac{1}{N \sigma} \sum_{i=1}^{N}" in es  # the lecture's gradient estimate
    tabular = " ".join(pages["algorithms/tabular-cem.html"].math)
    assert r"\lambda\, n_{\text{actions}}" in tabular  # Laplace smoothing
    ars = " ".join(pages["algorithms/ars.html"].math)
    assert r"\frac{\alpha}{b \, \sigma_R}" in ars  # the paper's step, scaled by sigma_R


@built_site
def test_math_is_rendered_by_the_sites_own_copy_of_mathjax(site: Path, pages: dict[str, Page]) -> None:
    """Every page with math loads MathJax from a file of the site, by a relative path (the site
    opens from its files, offline), after its configuration; no page loads math from elsewhere."""
    with_math = [name for name, page in pages.items() if page.math]
    assert len(with_math) >= 6
    for name in with_math:
        scripts = pages[name].scripts
        found = [src for src in scripts if src.endswith(MATH_SCRIPT)]
        assert len(found) == 1, f"{name} does not load {MATH_SCRIPT}: {scripts}"
        src = found[0]
        assert not re.match(r"[a-z]+:|/", src), f"{name} loads MathJax by an absolute address: {src}"
        path = (site / name).parent / src
        assert path.resolve().is_relative_to(site.resolve()) and path.is_file(), f"{name}: {src} is missing"
        assert path.stat().st_size > 1_000_000, "the whole tex-svg bundle, not a stub"
        config = scripts.index(src.replace("mathjax/tex-svg.js", "mathjax-config.js"))
        assert config < scripts.index(src), f"{name} loads MathJax before its configuration"
    remote = re.compile(r"(https?:)?//[^\s\"']*(mathjax|katex)", re.IGNORECASE)
    for name, page in pages.items():
        for reference in [*page.scripts, *page.links, *page.inline_scripts]:
            assert not remote.search(reference), f"{name} loads math from elsewhere: {reference[:200]}"


EXCERPT = re.compile(r"<!-- excerpt: (?P<name>[\w.]+) -->\s*```\w*\n(?P<code>.*?)\n```", re.DOTALL)


def test_quoted_excerpts_are_in_the_source() -> None:
    """A page quotes source that snippets cannot include (it may move) after an ``excerpt`` marker
    naming the object; every line quoted must still be in that object's source."""
    found = 0
    for page in sorted(DOCS.rglob("*.md")):
        for match in EXCERPT.finditer(page.read_text()):
            module_name, _, attribute = match.group("name").rpartition(".")
            source = inspect.getsource(getattr(importlib.import_module(module_name), attribute))
            lines = {line.strip() for line in source.splitlines()}
            for line in match.group("code").splitlines():
                assert line.strip() in lines, f"{page.name} quotes {line!r}, not in {match.group('name')}"
            found += 1
    assert found, "the tabular CEM page quotes new_policy"


LEAKED_MARKDOWN = re.compile(r"^(#{1,6} |[-*+] \S|\d+\. \S)")


@built_site
def test_no_markdown_block_is_swallowed_by_a_paragraph(pages: dict[str, Page]) -> None:
    """A heading or a list item that ran into the paragraph above it shows as its raw marker."""
    leaks = [
        f"{name}: {line.strip()[:80]!r}"
        for name, page in pages.items()
        for paragraph in page.paragraphs
        for line in paragraph.splitlines()[1:]
        if LEAKED_MARKDOWN.match(line.strip())
    ]
    assert not leaks, "\n".join(leaks)


IMAGE = re.compile(r'<img[^>]*\bsrc="([^"]+)"')
COMMAND_BLOCK = re.compile(r"policysearch (record|plot) ")


@pytest.mark.parametrize("name", ["results.html", *ALGORITHM_PAGES, "algorithms/policies.html"])
def test_the_results_and_every_algorithm_page_show_a_figure_with_its_command(site: Path, name: str) -> None:
    """A figure made from a real run, in the site, with the command that made it on the page."""
    html = (site / name).read_text(encoding="utf-8")
    images = [src for src in IMAGE.findall(html) if "figures/" in src]
    assert images, f"{name} shows no figure"
    for src in images:
        assert (site / name).parent.joinpath(src).resolve().is_file(), f"{name}: {src} is not in the site"
    text = re.sub(r"<[^>]+>", "", html)  # code blocks are highlighted token by token
    assert COMMAND_BLOCK.search(text), f"{name} does not give the command that made its figure"
