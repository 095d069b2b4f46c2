"""The tutorial notebook: its saved outputs (``make notebook``), and its links on the site.

The site shows the notebook's saved outputs (mkdocs-jupyter does not run it), so they must be
what today's code prints. ``tests/test_docs.py`` runs the notebook and compares its text outputs
with the saved ones (figures are not compared: the cells print the numbers their figures show);
the saved notebook records the CPU its outputs came from, since another kind of CPU may round a
float differently and so train another run (the comparison is made on the same kind only).

    .venv/bin/python docs/hooks/tutorial.py     # runs docs/tutorial.ipynb, saves its outputs

As an MkDocs hook (``mkdocs.yml``), it points the notebook's links to other pages (``guide/cli.md``,
as Jupyter opens them) at their built pages: mkdocs-jupyter leaves them as they are.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

NOTEBOOK = Path(__file__).resolve().parent.parent / "tutorial.ipynb"
#: The run folders' temporary parent, which the notebook prints: another name on every run.
WORK_FOLDER = re.compile(r"\S*policysearch-tutorial-\w+")


def cpu() -> str:
    """The kind of CPU, as far as it decides the floats here.

    Its model name, and the instruction sets that torch and numpy choose their kernels by
    (``AVX512``; ``X86_V4``, ``AVX512_SPR``...).
    """
    import platform

    import numpy as np
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    features = np._core._multiarray_umath.__cpu_features__  # numpy's runtime dispatch
    groups = [name for name, on in features.items() if on and name.startswith(("X86_V", "AVX512_"))]
    return f"{model}; torch {torch.backends.cpu.get_cpu_capability()}; numpy {' '.join(groups)}"


def execute(path: Path = NOTEBOOK) -> Any:
    """The notebook at ``path``, run top to bottom in a temporary working folder.

    Raises:
        nbclient.exceptions.CellExecutionError: naming the cell, if a cell fails.
    """
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        client = nbclient.NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
        )
        client.execute()
    return notebook


def text_outputs(notebook: Any) -> list[list[str]]:
    """Per code cell, what it printed to stdout (in one piece) and returned as text.

    Images and stderr are left out (how a kernel splits a cell's streams into outputs, and
    whether a library's stderr reaches it, vary from run to run); the work folder's name is
    replaced by ``WORK``.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        printed, results = "", []
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream" and output.get("name") == "stdout":
                printed += output["text"]
            elif kind == "execute_result":
                results.append(output["data"].get("text/plain", ""))
        cells.append([WORK_FOLDER.sub("WORK", text) for text in [printed, *results]])
    return cells


#: A relative link to a Markdown page in the built notebook: ``href="guide/cli.md#anchor"``.
PAGE_LINK = re.compile(r'href="(?![a-z]+:|/|#)([^"#]+)\.md(#[^"]*)?"')


def on_post_page(output: str, page: Any, **_: Any) -> str:
    """The notebook's page with its links to ``.md`` pages pointing at the ``.html`` built from them."""
    if not page.file.src_uri.endswith(".ipynb"):
        return output
    return PAGE_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', output)


def main() -> None:
    """Run docs/tutorial.ipynb and save its outputs, with the CPU they came from."""
    import nbformat

    notebook = execute()
    notebook.metadata.setdefault("policysearch", {})["outputs_cpu"] = cpu()
    nbformat.write(notebook, NOTEBOOK)
    print(f"{NOTEBOOK}: outputs saved (CPU: {cpu()})")


if __name__ == "__main__":
    main()
