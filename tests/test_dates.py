"""One reading of dates: core.dates, and the letters, facts and requests readers built on it."""

from __future__ import annotations

import datetime as dt

import pytest

from openimr.core.dates import PIVOT, parse_date, year
from openimr.core.facts import extract_facts
from openimr.core.facts.dates import dates
from openimr.core.letters.header import header_fields
from openimr.core.requests import parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3/4/65", dt.date(1965, 3, 4)),
        ("3/4/50", dt.date(2050, 3, 4)),
        ("3/4/51", dt.date(1951, 3, 4)),
        ("11-9-16", dt.date(2016, 11, 9)),
        ("3.4.2016", dt.date(2016, 3, 4)),
        ("11 / 18 / 2016", dt.date(2016, 11, 18)),
        ("2016-11-18", dt.date(2016, 11, 18)),
        ("SEPT. 3rd, 2014", dt.date(2014, 9, 3)),
        ("3/4-2016", None),
        ("2/30/2016", None),
        ("13/1/2016", None),
        ("Smarch 3, 2016", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(text: str | None, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


def test_two_digit_years_pivot() -> None:
    years = ("00", str(PIVOT), str(PIVOT + 1), "99", "1965")
    assert [year(y) for y in years] == [2000, 2050, 1951, 1999, 1965]


def test_letters_read_two_digit_years_by_the_pivot() -> None:
    fields = header_fields("Case Number: CM16-0000001 Date of Injury: 3/4/65 UR Denial Date: 11-9-16")
    assert fields["date_of_injury"] == dt.date(1965, 3, 4)
    assert fields["ur_denial_date"] == dt.date(2016, 11, 9)


def test_facts_read_two_digit_years_by_the_pivot() -> None:
    facts = extract_facts("The worker sustained an industrial injury on 3/4/65. He was seen on 1/5/17.")
    assert facts.injury_date == dt.date(1965, 3, 4)
    assert facts.days_since_injury == (dt.date(2017, 1, 5) - dt.date(1965, 3, 4)).days


def test_facts_do_not_read_a_dose_range_as_a_date() -> None:
    assert dates("Since the injury she takes Norco 2.5-10 mg and 1.5/3-4 tablets.") == ()


@pytest.mark.parametrize(
    ("item", "dos"),
    [
        ("Retrospective DOS 3/4/65 office visit", dt.date(1965, 3, 4)),
        ("Retro urine drug screen, date of service: 11.9.16", dt.date(2016, 11, 9)),
        ("Retrospective office visit DOS October 10th, 2015", dt.date(2015, 10, 10)),
    ],
)
def test_requests_read_dates_of_service_alike(item: str, dos: dt.date) -> None:
    assert parse(item).date_of_service == dos
