"""The house rules of components/ (docs/development.md), checked over the code itself:

- domains meet only through the shared modules below them (DESIGN.md): a domain imports
  itself, `components.contracts`, `components.kubernetes` and `components.config.base`;
  the shared modules import only each other; only the config root (`components.config`)
  knows every domain's config;
- every component has one shape: `(name, args, opts)`, secrets as `Output` fields of its
  pydantic args model, providers and dependencies through `opts`, type token
  `delivery:<module>:<Name>` (as the CDK's awslint checks its constructs).
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
DOMAINS = ("cluster", "gitops", "monitoring", "github", "storage")
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
