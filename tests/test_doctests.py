"""The examples in the docstrings run (the modules whose examples are meant to run)."""

import doctest
import importlib

import pytest

MODULES = [
    "policysearch.registry",
    "policysearch.algorithms.elite",
    "policysearch.policies.weights",
    "policysearch.config",
    "policysearch.errors",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
