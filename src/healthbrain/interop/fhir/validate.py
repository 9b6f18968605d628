"""Validation of a resource against FHIR R4 (``fhir.resources.R4B``, the closest model set to R4
for the types mapped here), with the elements named as FHIRPath (``Observation.code.coding[0]``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from healthbrain.interop.fhir.parse import Issue


@lru_cache(maxsize=64)
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def known_type(resource_type: str) -> bool:
    return _model(resource_type) is not None


def element_path(resource_type: str, loc: tuple[Any, ...]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) != "__root__":
            out += f".{part}"
    return out


def validate_r4(resource: dict[str, Any]) -> list[Issue]:
    """The R4 problems of a resource (empty: valid). Unknown resource types are a problem."""
    resource_type = str(resource.get("resourceType"))
    model = _model(resource_type)
    if model is None:
        return [Issue("resourceType", "fhir.error.unknown_type", {"value": resource_type})]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            params = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)}
            params["msg"] = err.get("msg", "")
            issues.append(Issue(element_path(resource_type, tuple(err["loc"])), "fhir.error.r4", params))
        return issues
    except (ValueError, TypeError) as exc:  # a model's own root validator
        return [Issue(resource_type, "fhir.error.r4", {"msg": str(exc)[:300]})]
    return []
