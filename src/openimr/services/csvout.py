"""The one CSV writer of every export: the corpus, the statistics, the audit log and the roster.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (``=HYPERLINK(...)``, ``@SUM(...)``), so a letter's reviewer specialty or a party's
name could run one on whoever opens the file. Following OWASP's guidance on CSV injection, such a
text cell is written with a leading ``'``, which the spreadsheet shows as text and does not
evaluate; the ``csv`` module quotes a cell holding the separator, a quote or a line break.

A number (a Python ``int`` or ``float``: a count, a year, a quantity) is written as it is, so a
negative one stays a number a spreadsheet can sum: the exports compute those, no one types them.
Text is always checked, even text that looks like a number (``+1`` would lose its sign and
``-1+2`` is a formula): its characters come through as they were written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: object) -> object:
    """*value* as a CSV cell a spreadsheet cannot take for a formula (``None`` is empty)."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """Rows of *columns* to *out* (the header first), every cell through :func:`cell`."""

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._writer = csv.writer(out, lineterminator="\n")
        self.row(self.columns)

    def row(self, values: Iterable[object]) -> None:
        """One row, its values in the columns' order."""
        self._writer.writerow([cell(v) for v in values])

    def rows(self, rows: Iterable[Iterable[object]]) -> None:
        for values in rows:
            self.row(values)

    def records(self, records: Iterable[Mapping[str, object]]) -> None:
        """Rows from mappings of column name to value (a missing column is empty)."""
        for record in records:
            self.row(record.get(name) for name in self.columns)
