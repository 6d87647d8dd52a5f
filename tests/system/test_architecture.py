"""The house rules of components/ and tests/ (docs/development.md), checked over the code itself:

- domains meet only through the shared modules below them (DESIGN.md): a domain imports
  itself, `components.contracts`, `components.kubernetes` and `components.config.base`;
  the shared modules import only each other; only the config root (`components.config`)
  knows every domain's config;
- every component has one shape: `(name, args, opts)`, secrets as `Output` fields of its
  pydantic args model, providers and dependencies through `opts`, type token
  `delivery:<module>:<Name>` (as the CDK's awslint checks its constructs);
- the tests mirror components/: a test module lives in tests/<domain>/ or tests/system/, helpers
  in tests/support/, fixtures alone in conftest.py.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path
from types import ModuleType

import pulumi
import pytest
from pydantic import BaseModel

import components
from tools.offline import ROOT

COMPONENTS = ROOT / "components"
DOMAINS = ("cluster", "gitops", "ingress", "monitoring", "github", "storage")
SHARED = ("contracts", "kubernetes")
# What every module may import: the config models' base types and value types.
BASE = "components.config.base"


def allowed(package: str, imported: str) -> bool:
    """May a module of `components.<package>` import `imported` (a `components.` module)?"""
    target = imported.split(".")[1] if imported.count(".") else ""
    if imported == BASE or imported.startswith(BASE + ".") or target == package:
        return True
    if package in DOMAINS:
        return target in SHARED
    if package in SHARED:
        return target in SHARED
    # The config root composes every domain's config models.
    return package == "config"


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `components.` import of a file, `from components import x` as `components.x`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "components":
                found += [(node.lineno, f"components.{a.name}") for a in node.names]
            elif node.module.startswith("components."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("components.")]
    return found


def violations(root: Path = COMPONENTS) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        package = path.relative_to(root).parts[0]
        if package.endswith(".py"):
            continue
        for line, module in imports(path):
            if not allowed(package, module):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return found


def test_domains_meet_only_through_the_shared_modules() -> None:
    assert not violations(), "imports across domains (share it in contracts/ or kubernetes/):\n" + "\n".join(
        violations()
    )


def test_the_import_rule_catches_a_crossing(tmp_path: Path) -> None:
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "monitoring" / "x.py").write_text(
        "from components.gitops.argocd import ArgoCd\nfrom components.kubernetes.helm import pinned_release\n"
    )
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "y.py").write_text("from components import github\n")
    assert [v.split(" imports ")[1] for v in violations(tmp_path)] == [
        "components.github",
        "components.gitops.argocd",
    ]


def test_only_the_config_root_and_the_program_know_the_whole_config() -> None:
    """No domain or shared module imports `StackConfig`: pure builders take their typed slice."""
    users = [
        f"{path.relative_to(ROOT)}"
        for path in COMPONENTS.rglob("*.py")
        if path.relative_to(COMPONENTS).parts[0] != "config"
        and any(m == "components.config.stack" for _, m in imports(path))
    ]
    assert not users


# --------------------------------------------------------------------------- the component contract


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(components.__path__, "components.")
        if ".schemas" not in info.name
    ]


def component_classes() -> list[type[pulumi.ComponentResource]]:
    found = {
        obj
        for module in _modules()
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, pulumi.ComponentResource)
        and obj.__module__ == module.__name__
    }
    return sorted(found, key=lambda c: c.__name__)


def _is_output(annotation: object) -> bool:
    if typing.get_origin(annotation) in (typing.Union, type(int | None)):
        return any(_is_output(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation is pulumi.Output or typing.get_origin(annotation) is pulumi.Output


def contract_problems(cls: type[pulumi.ComponentResource]) -> list[str]:
    problems: list[str] = []
    init = cls.__init__  # type: ignore[misc]
    parameters = list(inspect.signature(init).parameters.values())[1:]
    names = [p.name for p in parameters]
    if names != ["name", "args", "opts"]:
        problems.append(f"constructor takes {names}, not (name, args, opts)")
        return problems
    hints = typing.get_type_hints(init, vars(importlib.import_module(cls.__module__)))
    if hints.get("name") is not str:
        problems.append("name is not a str")
    args = hints.get("args")
    if not (inspect.isclass(args) and issubclass(args, BaseModel)):
        problems.append("args is not a pydantic model")
    elif args.__module__ != cls.__module__ and not args.__module__.startswith(
        cls.__module__.rsplit(".", 1)[0]
    ):
        problems.append(f"args model {args.__name__} lives outside the component's domain")
    if parameters[2].default is not None or hints.get("opts") != pulumi.ResourceOptions | None:
        problems.append("opts is not `pulumi.ResourceOptions | None = None`")
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in parameters):
        problems.append("extra parameters beside (name, args, opts)")
    module = cls.__module__.rsplit(".", 1)[1]
    tokens = re.findall(r'super\(\).__init__\(\s*"([^"]+)"', inspect.getsource(init))
    if tokens != [f"delivery:{module}:{cls.__name__}"]:
        problems.append(f"type token {tokens} is not delivery:{module}:{cls.__name__}")
    if "register_outputs" not in inspect.getsource(init):
        problems.append("never calls register_outputs")
    return problems


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The model's Output fields, nested models' included (a secret rides as an Output)."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        if _is_output(field.annotation):
            found.append(name)
        elif inspect.isclass(field.annotation) and issubclass(field.annotation, BaseModel):
            found += [f"{name}.{n}" for n in secret_fields(field.annotation)]
    return found


def test_there_are_components_to_check() -> None:
    assert len(component_classes()) >= 19


@pytest.mark.parametrize("cls", component_classes(), ids=lambda c: c.__name__)
def test_every_component_has_the_one_shape(cls: type[pulumi.ComponentResource]) -> None:
    assert not contract_problems(cls)


def test_secrets_ride_in_the_args_models() -> None:
    """The components that take secrets take them as Output fields of their args."""
    holders = {}
    for cls in component_classes():
        hints = typing.get_type_hints(cls.__init__, vars(importlib.import_module(cls.__module__)))  # type: ignore[misc]
        holders[cls.__name__] = secret_fields(hints["args"])
    assert holders["Monitoring"] == ["pagerduty_routing_key", "slack_webhook_url"]
    assert holders["ArgoCd"] == ["slack_webhook_url", "dispatch_token"]
    assert holders["ImagePullSecrets"] == ["token"]
    assert holders["MetricsBucket"] == ["linode_token"]
    assert holders["ValidationObserver"] == ["admin_kubeconfig"]


def test_the_contract_check_refuses_another_shape() -> None:
    class Loose(pulumi.ComponentResource):
        def __init__(
            self, name: str, args: BaseModel, token: str, opts: pulumi.ResourceOptions | None = None
        ):
            super().__init__("delivery:elsewhere:Loose", name, None, opts)

    Loose.__module__ = __name__
    assert contract_problems(Loose) == [
        "constructor takes ['name', 'args', 'token', 'opts'], not (name, args, opts)"
    ]


# --------------------------------------------------------------------------- the tests mirror components/

TESTS = ROOT / "tests"
# Folders of tests/ that hold data, not test code (golden renderings, recorded API answers,
# sample objects, upstream schemas); the .py files in them are rendered or recorded inputs.
TEST_DATA = ("golden", "fixtures", "samples", "schemas")
# Cross-domain tests: the whole program, the plan, the engine, the promotion's integrity,
# URNs, docs and this file.
SYSTEM = "system"
SUPPORT = "support"


def python_files(root: Path = TESTS) -> list[Path]:
    """Every Python file of tests/ outside its data folders."""
    return [p for p in sorted(root.rglob("*.py")) if p.relative_to(root).parts[0] not in TEST_DATA]


def layout_problems(root: Path = TESTS, components_root: Path = COMPONENTS) -> list[str]:
    """Test modules live in tests/<domain>/ (a package of components/, e.g. tests/github/workflows/)
    or tests/system/; other modules in tests/support/; conftest.py holds fixtures only."""
    problems: list[str] = []
    for path in python_files(root):
        rel = path.relative_to(root)
        folder = rel.parent
        if path.name == "conftest.py":
            problems += [f"{rel}:{line} {what}" for line, what in conftest_problems(path)]
        elif path.name.startswith("test_"):
            mirrored = (components_root / folder / "__init__.py").exists()
            if str(folder) == "." or not (mirrored or folder.parts[0] == SYSTEM):
                problems.append(
                    f"{rel}: a test module lives in tests/<domain>/ (a package of components/) or tests/system/"
                )
        elif folder.parts[:1] != (SUPPORT,):
            problems.append(f"{rel}: a helper module lives in tests/support/")
        problems += [f"{rel}:{line} {what}" for line, what in import_problems(path)]
    return problems


def conftest_problems(path: Path) -> list[tuple[int, str]]:
    """What a conftest.py holds besides imports and fixtures (helpers belong in tests/support/)."""
    found: list[tuple[int, str]] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not fixture and not node.name.startswith("pytest_"):
                found.append((node.lineno, f"defines {node.name}, not a fixture or hook"))
        elif not isinstance(node, ast.Import | ast.ImportFrom | ast.Expr):
            found.append((node.lineno, "holds something other than fixtures (helpers go in tests/support/)"))
    return found


def import_problems(path: Path) -> list[tuple[int, str]]:
    """Imports of conftest.py, and of another test module's functions: test modules share
    helpers through tests.support; from a test module only its case tables (UPPER_CASE) and
    their row types (CapWords) may be imported, so two tests run the same rows."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                last = alias.name.split(".")[-1]
                if last == "conftest" or last.startswith("test_"):
                    found.append((node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            last = node.module.split(".")[-1]
            if last == "conftest":
                found.append((node.lineno, f"imports from {node.module}"))
            elif last.startswith("test_"):
                found += [
                    (node.lineno, f"imports {a.name} from {node.module}")
                    for a in node.names
                    if not (a.name.isupper() or (a.name[:1].isupper() and "_" not in a.name))
                ]
    return found


def test_the_tests_mirror_components() -> None:
    assert layout_problems() == []


def test_the_layout_check_refuses_a_misplaced_test(tmp_path: Path) -> None:
    components_root = tmp_path / "components"
    (components_root / "gitops").mkdir(parents=True)
    (components_root / "gitops" / "__init__.py").write_text("")
    tests = tmp_path / "tests"
    for folder in ("gitops", "system", "support", "golden", "nowhere"):
        (tests / folder).mkdir(parents=True)
    (tests / "gitops" / "test_ok.py").write_text("from tests.support.stacks import run_stack\n")
    (tests / "system" / "test_ok.py").write_text("from tests.gitops.test_ok import CASES, Row\n")
    (tests / "support" / "helpers.py").write_text("")
    (tests / "golden" / "script.py").write_text("")
    (tests / "test_root.py").write_text("")
    (tests / "nowhere" / "test_x.py").write_text("from conftest import run_stack\n")
    (tests / "gitops" / "helpers.py").write_text("from tests.gitops.test_ok import helper\n")
    (tests / "conftest.py").write_text("import pytest\n\n\nSECRETS = {}\n\n\ndef helper() -> None: ...\n")
    assert layout_problems(tests, components_root) == [
        "conftest.py:4 holds something other than fixtures (helpers go in tests/support/)",
        "conftest.py:7 defines helper, not a fixture or hook",
        "gitops/helpers.py: a helper module lives in tests/support/",
        "gitops/helpers.py:1 imports helper from tests.gitops.test_ok",
        "nowhere/test_x.py: a test module lives in tests/<domain>/ (a package of components/) or tests/system/",
        "nowhere/test_x.py:1 imports from conftest",
        "test_root.py: a test module lives in tests/<domain>/ (a package of components/) or tests/system/",
    ]
