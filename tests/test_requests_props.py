"""Property-based tests: ``parse`` never raises, and unreadable input is "other" with nulls."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openimr.core.requests import Request, parse
from openimr.core.requests.resources import data

EMPTY = Request().model_dump(exclude={"category"})
CANONICAL = set(data("anatomy")["parts"])
# Letters of scripts the parser does not read: Cyrillic, Greek, Arabic, CJK, Hangul.
FOREIGN = st.text(
    st.one_of(
        st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),
        st.characters(min_codepoint=0x0370, max_codepoint=0x03FF),
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
    ),
    min_size=1,
    max_size=200,
)
WORDS = st.sampled_from(
    [
        "Norco",
        "10/325mg",
        "#60",
        "PT",
        "2x6",
        "left",
        "right",
        "bilateral",
        "knee",
        "L4-5",
        "MRI",
        "of",
        "the",
        "retro",
        "DOS",
        "12/01/16",
        "post-op",
        "sessions",
        "twice",
        "weekly",
        "for",
        "6",
        "weeks",
        "(4)",
        "and",
        ",",
    ]
)


def _well_formed(r: Request) -> None:
    assert len(r.body_parts) == len(r.body_regions) == len(set(r.body_parts))
    assert set(r.body_parts) <= CANONICAL
    if r.category != "drug":
        assert r.drug is None
    if r.date_of_service is not None:
        assert r.retrospective
    for n in (r.sessions, r.frequency_per_week, r.duration_weeks):
        assert n is None or n >= 0


@given(st.text(max_size=300))
def test_any_text_parses(text: str) -> None:
    _well_formed(parse(text))


@given(st.lists(WORDS, max_size=25).map(" ".join))
def test_item_like_text_parses(text: str) -> None:
    r = parse(text)
    _well_formed(r)
    assert parse(text) == r  # deterministic


@given(st.binary(min_size=1, max_size=300))
def test_binary_junk_is_other(raw: bytes) -> None:
    r = parse((raw + b"\x00").decode("latin-1"))
    assert r.category == "other"
    assert r.model_dump(exclude={"category"}) == EMPTY


@given(FOREIGN)
def test_other_scripts_are_other(text: str) -> None:
    r = parse(text)
    assert r.category == "other"
    assert r.model_dump(exclude={"category"}) == EMPTY


@settings(max_examples=10, deadline=None)
@given(st.text(st.characters(codec="ascii"), min_size=1, max_size=20))
def test_megabyte_of_text_is_other(chunk: str) -> None:
    r = parse((chunk * (1_000_000 // len(chunk) + 1))[:1_000_001])
    assert r.category == "other"
    assert r.model_dump(exclude={"category"}) == EMPTY
