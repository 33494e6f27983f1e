"""Problems with a FHIR request, each named by its FHIRPath, and the OperationOutcome that says them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome

MAX_ISSUES = 50  # an OperationOutcome names at most this many problems


@dataclass(frozen=True)
class Problem:
    """One problem: where (a FHIRPath), what, and its FHIR issue type (``invalid``, ``required``,
    ``value``, ``structure``, ``too-long``, ``business-rule``, ``not-found``...)."""

    where: str
    message: str
    code: str = "invalid"


class FhirError(Exception):
    """A request refused with an HTTP *status*; :func:`outcome` of its problems says why."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        self.status = status
        self.problems = problems[:MAX_ISSUES]
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in self.problems[:5]))


def path(loc: tuple[Any, ...] | list[Any], root: str = "Bundle") -> str:
    """A pydantic error location as a FHIRPath: ``('entry', 2, 'resource', 'item', 0)`` ->
    ``Bundle.entry[2].resource.item[0]`` (a primitive's ``__ext`` twin named as the element)."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += "." + str(part).removesuffix("__ext")
    return out


def outcome(problems: list[Problem], severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome (JSON) with one issue per problem, its FHIRPath in ``expression``."""
    issues = [
        {
            "severity": severity,
            "code": p.code,
            "diagnostics": p.message,
            "expression": [p.where],
        }
        for p in problems[:MAX_ISSUES]
    ] or [{"severity": severity, "code": "processing", "diagnostics": "the request failed"}]
    return OperationOutcome.model_validate({"issue": issues}).model_dump(mode="json")
