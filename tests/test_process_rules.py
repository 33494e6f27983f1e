"""Eligibility rules, deadlines across California state holidays, and the case state machine."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from openimr.core.case import Application
from openimr.core.process import deadlines, eligibility, workflow
from openimr.core.process.workflow import Status

D = dt.date


def case(**changes) -> Application:
    data = {
        "application_received": "2024-03-20",
        "date_of_injury": "2023-05-01",
        "ur_decision_date": "2024-03-01",
        "ur_decision_served": "2024-03-04",
        "clinical_summary": "Hand pain after a crush injury.",
        "disputed_items": [{"item": "Acupuncture 2 x week for 6 weeks", "category": "acupuncture"}],
    }
    return Application.model_validate(data | changes)


def test_a_timely_application_is_eligible() -> None:
    result = eligibility.check(case())
    assert result.eligible
    assert all(f.verified and f.citation for f in result.findings)


def test_timeliness_counts_30_days_from_service() -> None:
    assert eligibility.check(case(application_received="2024-04-03")).eligible  # day 30
    late = eligibility.check(case(application_received="2024-04-04"))
    assert not late.eligible
    timely = next(f for f in late.findings if f.rule == "timely")
    assert not timely.passed and "31 days" in timely.reason and "4610.5(h)" in timely.citation
    notice = eligibility.notice("CM24-0000001", late.as_dict())
    assert "not eligible" in notice and "more than 30 days" in notice


def test_without_a_service_date_the_decision_date_counts() -> None:
    assert not eligibility.check(case(ur_decision_served=None, application_received="2024-04-01")).eligible


def test_an_approval_is_not_disputed_and_items_must_be_in_the_ur_decision() -> None:
    approved = case(ur_items=[{"item": "acupuncture 2 x WEEK for 6 weeks", "outcome": "approved"}])
    assert not eligibility.check(approved).eligible
    mixed = case(
        ur_items=[{"item": "Acupuncture 2 x week for 6 weeks", "outcome": "modified"}],
        disputed_items=[
            {"item": "Acupuncture 2 x week for 6 weeks", "category": "acupuncture"},
            {"item": "MRI of the left hand", "category": "imaging"},
        ],
    )
    result = eligibility.check(mixed)
    assert result.eligible
    assert [f.passed for f in result.items] == [True, False]
    assert "not an item of the UR decision" in result.items[1].reason


def test_old_injuries_with_old_ur_decisions_are_outside_imr() -> None:
    old = case(
        date_of_injury="2010-01-01",
        ur_decision_date="2013-06-01",
        ur_decision_served="2013-06-01",
        application_received="2013-06-10",
    )
    assert not eligibility.check(old).eligible
    later = {
        "ur_decision_date": D(2013, 7, 1),
        "ur_decision_served": None,
        "application_received": D(2013, 7, 10),
    }
    assert eligibility.check(old.model_copy(update=later)).eligible


def test_state_holidays_2024_are_calhrs_list() -> None:
    assert sorted(deadlines.state_holidays(2024)) == [
        D(2024, 1, 1), D(2024, 1, 15), D(2024, 2, 19), D(2024, 4, 1), D(2024, 5, 27), D(2024, 7, 4),
        D(2024, 9, 2), D(2024, 11, 11), D(2024, 11, 28), D(2024, 11, 29), D(2024, 12, 25),
    ]  # fmt: skip


def test_observation_rules() -> None:
    assert D(2023, 1, 2) in deadlines.state_holidays(2023)  # New Year's Day on a Sunday: Monday
    assert D(2023, 11, 10) in deadlines.state_holidays(2023)  # Veterans Day on a Saturday: Friday
    assert D(2021, 12, 24) not in deadlines.state_holidays(2021)  # Christmas on a Saturday: not moved
    assert D(2024, 6, 19) not in deadlines.state_holidays(2024)  # Juneteenth: not a state office holiday


def test_formulary_disputes_count_working_days_across_thanksgiving() -> None:
    due = deadlines.due_date("Standard", True, D(2024, 11, 25), None)
    assert (due.timeframe, due.due) == ("formulary", D(2024, 12, 4))
    assert deadlines.working_days_between(D(2024, 11, 25), due.due) == 5


def test_standard_is_30_days_from_the_later_receipt_rolled_past_holidays() -> None:
    due = deadlines.due_date("Standard", False, D(2024, 11, 20), D(2024, 11, 25))
    assert due.clock_start == D(2024, 11, 25)
    assert due.due == D(2024, 12, 26)  # day 30 is Christmas
    assert deadlines.due_date("Standard", False, D(2024, 11, 1), None).due == D(2024, 12, 2)  # Sunday


def test_expedited_is_three_days_and_marked_unverified() -> None:
    due = deadlines.due_date("Expedited", False, D(2024, 12, 23), None)
    assert due.due == D(2024, 12, 26) and not due.verified


def test_overdue_and_at_risk() -> None:
    due = deadlines.due_date("Standard", False, D(2024, 3, 1), None)
    assert due.standing(D(2024, 3, 10)) == "on_time"
    assert due.standing(due.due - dt.timedelta(days=2)) == "at_risk"
    assert due.standing(due.due) == "at_risk"
    assert due.standing(due.due + dt.timedelta(days=1)) == "overdue"


def test_the_happy_path_is_allowed() -> None:
    path = list(Status)[:7]
    for here, there in itertools.pairwise(path):
        assert workflow.check(here, there) is there


@pytest.mark.parametrize(
    ("here", "there"),
    [
        ("received", "assigned"),
        ("eligibility", "decided"),
        ("records_requested", "letter_issued"),
        ("in_review", "letter_issued"),
        ("letter_issued", "withdrawn"),
        ("ineligible", "records_requested"),
        ("withdrawn", "received"),
    ],
)
def test_other_moves_are_refused(here: str, there: str) -> None:
    with pytest.raises(workflow.TransitionError, match="cannot become"):
        workflow.check(here, there)


def test_open_cases_can_be_withdrawn_closed_ones_cannot() -> None:
    for status in Status:
        if status in workflow.TERMINAL:
            assert not workflow.TRANSITIONS[status]
        else:
            assert Status.WITHDRAWN in workflow.TRANSITIONS[status]
