"""The MTUS and related rules as versioned, validated data (see ``mtus.yaml``)."""

from openimr.core.guidelines.rules import (
    Condition,
    Limit,
    LimitKind,
    Role,
    Rule,
    RuleFileError,
    RuleSet,
    drug_classes_of,
    load_rules,
    parse_rules,
    rules_for,
)

__all__ = [
    "Condition",
    "Limit",
    "LimitKind",
    "Role",
    "Rule",
    "RuleFileError",
    "RuleSet",
    "drug_classes_of",
    "load_rules",
    "parse_rules",
    "rules_for",
]
