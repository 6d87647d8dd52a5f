"""The configuration reference (docs/reference/configuration.md), generated from the pydantic models
and the secrets Pulumi.yaml declares (written by ``python -m tools.docs_sections --write``)."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.config.base import NAMESPACE
from components.config.stack import StackConfig
from tools.offline import project


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _json(value: Any) -> str:
    def encode(obj: Any) -> Any:
        return obj.model_dump(by_alias=True, exclude_none=True) if isinstance(obj, BaseModel) else str(obj)

    return json.dumps(value, default=encode)


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "defaultText" in extra:
        return str(extra["defaultText"])
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{_json(value)}`"


def _models(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """Models nested in an annotation, each with whether it sits in a map keyed by name."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict:
        return [(m, True) for m, _ in _models(args[1])]
    if origin is list:
        return _models(args[0])
    if origin is not None:
        return [found for a in args for found in _models(a)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    return []


def rows(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        out.append(
            f"| `{NAMESPACE}:{key}` | {_type_name(field.annotation)} | {_default(field)} | {description} |"
        )
        for nested, keyed in _models(field.annotation):
            out += rows(nested, f"{key}.<name>." if keyed else f"{key}.")
    return out


def secret_rows() -> list[str]:
    decls = project().get("config") or {}
    return [
        f"| `{NAMESPACE}:{key}` | secret string | required | {' '.join(str(decl['description']).split())} |"
        for key, decl in sorted(decls.items())
        if isinstance(decl, dict) and decl.get("secret")
    ]


def table() -> str:
    header = ["| key | type | default | description |", "|---|---|---|---|"]
    return "\n".join([*header, *rows(), *secret_rows()])
