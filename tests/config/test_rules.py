"""The cross-domain rules run as one list (components/config/rules/__init__.py): a rule written
in a concern's module but left out of RULES would never run, and no config test would notice."""

from __future__ import annotations

import inspect
import pkgutil

from components.config import rules
from components.config.rules import RULES, cluster, gitops, governance, pipeline, production, supply_chain


def test_every_rule_of_every_concern_runs_once() -> None:
    written = [
        function
        for module in (production, cluster, supply_chain, gitops, governance, pipeline)
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if name.endswith("_problems") and not name.startswith("_") and function.__module__ == module.__name__
    ]
    assert sorted(f.__qualname__ for f in written) == sorted(f.__qualname__ for f in RULES)
    assert len(set(RULES)) == len(RULES)


def test_the_concern_modules_are_the_package() -> None:
    modules = {m.name for m in pkgutil.iter_modules(rules.__path__)}
    assert modules == {"production", "cluster", "supply_chain", "gitops", "governance", "pipeline"}
