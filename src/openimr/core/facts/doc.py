"""The summary being read: its sentences, ConText modifiers and the Fact constructor."""

from __future__ import annotations

from bisect import bisect_right
from functools import cached_property
from typing import Any

from openimr.core.facts.context import FLAGS, Modifier, context, sentences
from openimr.core.facts.models import Fact


class Doc:
    """A clinical summary with lazily computed sentences and modifiers."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def sentences(self) -> list[tuple[int, int]]:
        return sentences(self.text)

    @cached_property
    def _starts(self) -> list[int]:
        return [s for s, _ in self.sentences]

    @cached_property
    def _modifiers(self) -> dict[int, list[Modifier]]:
        return {}

    def sentence(self, pos: int) -> tuple[int, int]:
        """The (start, end) of the sentence holding character *pos*."""
        i = max(bisect_right(self._starts, pos) - 1, 0)
        return self.sentences[i] if self.sentences else (0, len(self.text))

    def modifiers(self, pos: int) -> list[Modifier]:
        """The modifiers of the sentence holding character *pos*."""
        if not self.sentences:
            return []
        i = max(bisect_right(self._starts, pos) - 1, 0)
        if i not in self._modifiers:
            self._modifiers[i] = context().modifiers(self.text, *self.sentences[i])
        return self._modifiers[i]

    def fact(
        self, kind: str, value: str, start: int, end: int, ignore: tuple[int, int] = (0, 0), **fields: Any
    ) -> Fact:
        """A Fact over text[start:end], with the ConText flags of the modifiers whose scope it meets.

        A modifier that overlaps the target itself does not modify it ("has not returned to work").
        Nor does one inside *ignore* (a qualifier of the target: "without medication" for a pain score).
        Flags given in *fields* (a target that is negative in itself) are kept.
        """
        flags: dict[str, bool] = {}
        triggers: list[str] = []
        for mod in self.modifiers(start):
            overlaps_target = mod.start < end and start < mod.end
            ignored = ignore[0] <= mod.start and mod.end <= ignore[1]
            if not (overlaps_target or ignored) and mod.scope_start < end and start < mod.scope_end:
                flags[FLAGS[mod.category]] = True
                triggers.append(mod.text)
        for flag in FLAGS.values():
            if fields.get(flag):
                flags[flag] = True
        fields.update(flags)
        return Fact(
            kind=kind,
            value=value,
            start=start,
            end=end,
            snippet=self.text[start:end],
            modifiers=tuple(triggers),
            **fields,
        )
