"""People's words for stored codes: every status and category has a label with no underscore, an
unknown code still reads as words, and logged values read as text instead of JSON."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from openimr.core import labels
from openimr.core.labels import label, logged, words
from openimr.core.process.workflow import Status
from openimr.core.requests.model import Category
from openimr.services.audit import fold
from openimr.services.schemas import AuditOut


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_its_own_label(status: Status) -> None:
    text = label(status, "status")
    assert status.value in labels.STATUSES and "_" not in text and text[0].isupper()


def test_status_labels_read_as_people_say_them() -> None:
    assert label("records_requested", "status") == "Records requested"
    assert label(Status.LETTER_ISSUED, "status") == "Letter issued"


@pytest.mark.parametrize("category", typing.get_args(Category))
def test_every_request_category_reads_without_underscores(category: str) -> None:
    text = label(category, "category")
    assert "_" not in text and text[0].isupper()


def test_abbreviations_stay_in_capitals_and_unknown_codes_still_read() -> None:
    assert label("dme", "category") == "Durable medical equipment"
    assert label("nsaid", "drug_class") == "NSAID"
    assert label("ur_decision_date", "field") == "UR decision date"
    assert label("some_new_code", "action") == "Some new code"
    assert words("") == "" and words("_") == "_"
    assert label(None, "status") == ""
    assert logged({"DC-01": "unqualified"}) == "DC-01: unqualified"  # a code as a key stays as written


def test_a_logged_mapping_reads_field_by_field() -> None:
    assert logged({"age": 38, "sex": "male"}) == "Age: 38; Sex: male"
    assert logged({"age": 38, "sex": None}) == "Age: 38"  # nothing said of what was not given


def test_logged_values_of_every_kind_read_as_text() -> None:
    assert logged(None) == ""
    assert logged(True) == "yes" and logged(False) == "no"
    assert logged(17.516769336071185) == "17.52" and logged(32.0) == "32"
    assert logged(["Licensed Acupuncturist", "Chiropractor"]) == "Licensed Acupuncturist, Chiropractor"
    assert logged("records_requested", "status") == "Records requested"
    assert logged("physical_therapy", "category") == "Physical therapy"
    assert logged("a_file_name.txt", "name") == "a_file_name.txt"  # free text is left as written


def test_nested_values_keep_their_parts_together() -> None:
    items = [
        {"item": "Acupuncture x6", "outcome": "denied"},
        {"item": "Norco 10/325 #60", "outcome": "modified"},
    ]
    assert (
        logged(items)
        == "(1) Item: Acupuncture x6; Outcome: denied (2) Item: Norco 10/325 #60; Outcome: modified"
    )
    why = {"code": "practice", "facts": {"years": 17.5, "hours": 32.0}}
    assert logged(why) == "Code: practice; Facts: (Years: 17.5; Hours: 32)"
    assert "{" not in logged({"claimant": {"age": 38}, "ur_items": items})


def test_hostile_text_is_left_to_the_template_to_escape() -> None:
    # The labels return plain text; autoescaping templates escape it (no Markup is made here).
    assert logged({"name": "<script>"}) == "Name: <script>"
    assert type(logged({"name": "<b>"})) is str


def test_statistics_groups_by_a_code_read_as_labels_and_names_stay_as_they_are() -> None:
    assert labels.group_label("physical_therapy", "category") == "Physical therapy"
    assert labels.group_label("nsaid", "drug-class") == "NSAID"
    assert labels.group_label("MTUS Chronic Pain", "family") == "MTUS Chronic Pain"
    assert labels.group_label("physical_medicine", "specialty") == "physical_medicine"  # a name, untouched


def test_an_audit_entry_lists_each_field_with_a_value_in_words() -> None:
    row = AuditOut(
        id=1,
        at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        actor="coordinator",
        case_number="CM26-0000001",
        entity="case",
        key="CM26-0000001",
        action="create",
        before={"status": "records_requested", "claim_number": None},
        after={
            "status": "assigned",
            "claim_number": None,
            "claimant": {"age": 38, "sex": "male"},
            "documents": [],
        },
    )
    [entry] = fold([row])
    assert [(c.field, c.before, c.after) for c in entry.changes] == [
        ("status", "Records requested", "Assigned"),
        ("claimant", "", "Age: 38; Sex: male"),
    ]
