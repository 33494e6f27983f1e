"""Clinical facts from an IMR case summary, each with the span of text that shows it.

Components (one per file, like medspaCy's) find targets from the rule files in ``targets/``;
``context.py`` applies ConText negation, uncertainty, history and hypothetical modifiers.
"""

from openimr.core.facts.models import Evidence, Fact, FactKind, Facts
from openimr.core.facts.pipeline import extract_facts

__all__ = ["Evidence", "Fact", "FactKind", "Facts", "extract_facts"]
