"""Validation errors in people's words: pydantic's (and FastAPI's) errors, each as the field a
person knows ("Age", "Disputed item 2, UR outcome", "Employer, name") and the problem in plain
words ("must be between 14 and 110", "is not a date: give it as YYYY-MM-DD"), never pydantic's
own ("Input should be a valid integer", "String should match pattern '^[A-Za-z0-9_.@-]+$'").

The one place this is said: the API's 422 answers, the pages' forms and anything else that shows a
validation error to a person use :func:`plain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic_core.core_schema import ErrorType

from openimr.core.bounds import LINE, TEXT
from openimr.core.labels import words

# A field's label where its words ("ur_decision_date" → "UR decision date") are not enough.
FIELD_LABELS = {
    "claimant": "",  # its fields name themselves: "Age", not "Injured worker, age"
    "name": "Name",
    "age": "Age",
    "item": "",  # a disputed item's text: "Disputed item 2"
    "disputed_items": "Disputed item",
    "ur_items": "UR item",
    "parties": "Party",
    "claims_administrator_guideline": "Guideline the UR decision cited",
    "authorized": "Authorized portion",
    "ur_outcome": "UR outcome",
    "documents_received": "Records received",
    "condition_specialty": "Condition's specialty",
    "claim_number": "Claim number",
    "date_of_injury": "Date of injury",
    "doc_type": "Document type",
    "q": "Search words",
}
PARTY_ROLES = {
    "employee": "Injured worker",
    "employer": "Employer",
    "claims_administrator": "Claims administrator",
    "requesting_provider": "Requesting provider",
    "treating_provider": "Treating provider",
    "ur_organization": "UR organization",
    "employee_attorney": "Injured worker's attorney",
}
_WHERE = frozenset({"body", "query", "path", "header", "cookie", "form"})
_PATTERNS = {
    LINE: "must be one line, without control characters",
    TEXT: "must not hold a NUL character",
    r"^[A-Za-z0-9_.@-]+$": "may hold only letters, digits and . _ @ -",
    r"^CM\d{2}-\d{7}$": "reads like CM26-0000001",
}
# pydantic's error types, in people's words ({…} from the error's context).
_MESSAGES = {
    "missing": "required",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "give at least {min_length}",
    "too_long": "give at most {max_length}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be yes or no (true or false)",
    "bool_type": "must be yes or no (true or false)",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "extra_forbidden": "is not a field here",
    "json_invalid": "is not valid JSON",
    "model_type": "must be an object with named fields",
    "model_attributes_type": "must be an object with named fields",
    "dict_type": "must be an object with named fields",
    "list_type": "must be a list",
    "string_type": "must be text",
    "url_parsing": "is not a web address",
    "date_from_datetime_inexact": "must be a date without a time",
}
_PYDANTIC = frozenset(get_args(ErrorType))  # pydantic's own error types; any other is ours
_NOT_A_DATE = ("date_parsing", "date_from_datetime_parsing", "date_type", "datetime_parsing", "datetime_type")


@dataclass(frozen=True)
class Problem:
    """One validation error in people's words: *label* names the field, *text* the problem."""

    loc: tuple[str | int, ...]  # where, as pydantic gives it ("body", "claimant", "age")
    label: str
    text: str
    type: str

    def __str__(self) -> str:
        return f"{self.label}: {self.text}"

    @property
    def field(self) -> str:
        """The field's path without where it came from: "claimant.age", "disputed_items.1.item"."""
        return ".".join(str(p) for p in self.loc if p not in _WHERE)


def field_label(loc: Sequence[Any], data: Any = None) -> str:
    """The field at *loc* as a person names it, e.g. "Age", "Disputed item 2, UR outcome",
    "Employer, name" (a party by its role, found in *data*, the input validated)."""
    words_: list[str] = []
    node = data
    for n, part in enumerate(loc):
        if n == 0 and part in _WHERE:
            continue
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            role = item.get("role") if isinstance(item, dict) else None
            if role in PARTY_ROLES and words_ and words_[-1] == FIELD_LABELS["parties"]:
                words_[-1] = PARTY_ROLES[role]
            elif words_:
                words_[-1] = f"{words_[-1]} {part + 1}"
            else:
                words_.append(f"Line {part + 1}")
            node = item
            continue
        if not isinstance(part, str) or "[" in part:  # a union's or validator's own step
            continue
        node = node.get(part) if isinstance(node, dict) else None
        word = FIELD_LABELS[part] if part in FIELD_LABELS else words(part)
        if word:
            words_.append(word if not words_ else word[:1].lower() + word[1:])
    return ", ".join(words_) or "The request"


def _text(error: Mapping[str, Any], form: bool) -> str:
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    if kind in _NOT_A_DATE:
        return (
            "is not a date: choose one from the calendar" if form else "is not a date: give it as YYYY-MM-DD"
        )
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(str(ctx.get("pattern")), "is not in the form it should be")
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "required"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "give at least one"
    if kind in ("literal_error", "enum"):
        ctx["expected"] = str(ctx.get("expected", "")).replace("'", "")
    if kind in _MESSAGES:
        try:
            return _MESSAGES[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "is not valid"))
    if kind not in _PYDANTIC:  # ours, written as it should read ("December 7, 2026 is ...")
        return message
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


def plain(errors: Iterable[Mapping[str, Any]], data: Any = None, form: bool = False) -> list[Problem]:
    """Validation errors (pydantic's or FastAPI's) in people's words, each naming its field;
    *data* is the input validated (to name a party by its role), *form* whether a page's form
    (whose date fields are pickers) sent it."""
    return [
        Problem(
            tuple(e.get("loc", ())), field_label(e.get("loc", ()), data), _text(e, form), str(e.get("type"))
        )
        for e in errors
    ]
