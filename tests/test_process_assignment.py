"""Reviewer assignment: never a conflicted or unqualified reviewer, capacity kept, reasons given."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from openimr.core.case import Party
from openimr.core.process.assignment import Candidate, Need, assign, exclusions, qualifying_specialties
from openimr.core.process.roster import License

TODAY = dt.date(2025, 3, 3)
SPECIALTIES = [
    "Licensed Acupuncturist",
    "Chiropractor",
    "Orthopedic Surgery",
    "Hand Surgery",
    "Pain Management",
    "Physical Medicine & Rehabilitation",
    "Internal Medicine",
    "Psychology",
]
SERVICES = ["acupuncture", "chiropractic", "drug", "surgery", "imaging", "psychological", "physical_therapy"]
PARTIES = ["Acme Insurance", "Valley Packing", "Dr. Ortiz", "Coastline UR", "Dr. Pierce"]
ROLES = ["employer", "claims_administrator", "requesting_provider", "ur_organization"]
parties = st.builds(Party, role=st.sampled_from(ROLES), name=st.sampled_from(PARTIES))

licenses = st.builds(
    License,
    state=st.sampled_from(["California", "Texas"]),
    kind=st.sampled_from(["MD", "DC", "LAc"]),
    status=st.sampled_from(["active", "active", "suspended", "expired", "probation"]),
    expires=st.one_of(st.none(), st.dates(TODAY - dt.timedelta(days=90), TODAY + dt.timedelta(days=900))),
)
candidates = st.builds(
    Candidate,
    code=st.uuids().map(lambda u: u.hex[:8]),
    name=st.sampled_from(["A. Reviewer", "B. Reviewer", "Dr. Ortiz"]),
    licenses=st.lists(licenses, min_size=1, max_size=2).map(tuple),
    specialties=st.lists(st.sampled_from(SPECIALTIES), min_size=1, max_size=3, unique=True).map(tuple),
    active_practice_since=st.dates(dt.date(1990, 1, 1), TODAY),
    weekly_clinical_hours=st.sampled_from([10, 23.5, 24, 30, 40]),
    affiliations=st.lists(st.sampled_from(PARTIES), max_size=2).map(tuple),
    capacity=st.integers(1, 4),
    open_cases=st.integers(0, 3),
)
needs = st.builds(
    Need,
    case_number=st.uuids().map(lambda u: f"CM25-{u.int % 10**7:07d}"),
    due=st.dates(TODAY, TODAY + dt.timedelta(days=30)),
    services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2).map(tuple),
    condition_specialty=st.one_of(st.none(), st.sampled_from(SPECIALTIES)),
    parties=st.lists(parties, min_size=1, max_size=3, unique_by=lambda p: p.name).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    roster=st.lists(candidates, max_size=8, unique_by=lambda c: c.code),
    batch=st.lists(needs, max_size=8, unique_by=lambda n: n.case_number),
)
def test_never_a_conflicted_or_unqualified_reviewer_and_capacity_holds(roster, batch) -> None:
    outcomes = assign(batch, roster, TODAY)
    assert [o.case_number for o in outcomes] == [n.case_number for n in batch]
    by_code = {r.code: r for r in roster}
    load = {r.code: r.open_cases for r in roster}
    for need, outcome in zip(batch, outcomes, strict=True):
        assert outcome.reasons
        assert set(outcome.others) == set(by_code) - {outcome.reviewer}
        if outcome.reviewer is None:
            # Nobody left out could have taken it: each is excluded or full.
            for r in roster:
                assert (
                    exclusions(r, need, TODAY)
                    or load[r.code] + 1 > r.capacity
                    or any(o.reviewer == r.code for o in outcomes)
                )
            continue
        reviewer = by_code[outcome.reviewer]
        assert exclusions(reviewer, need, TODAY) == []
        assert not {a.casefold() for a in reviewer.affiliations} & {p.name.casefold() for p in need.parties}
        assert reviewer.name.casefold() not in {p.name.casefold() for p in need.parties}
        load[reviewer.code] += 1
    for r in roster:
        assert load[r.code] <= max(r.capacity, r.open_cases)


def _reviewer(code: str, specialty: str, **changes) -> Candidate:
    values = {
        "code": code,
        "name": f"Reviewer {code}",
        "licenses": (License(state="California", kind="MD"),),
        "specialties": (specialty,),
        "active_practice_since": dt.date(2010, 1, 1),
        "weekly_clinical_hours": 30,
        "affiliations": (),
        "capacity": 3,
    }
    return Candidate(**(values | changes))


def test_acupuncture_goes_to_an_acupuncturist_and_each_exclusion_is_explained() -> None:
    suspended = License(state="California", kind="LAc", status="suspended")
    roster = [
        _reviewer("lac", "Licensed Acupuncturist"),
        _reviewer("lac-conflict", "Licensed Acupuncturist", affiliations=("Acme Insurance",)),
        _reviewer("lac-new", "Licensed Acupuncturist", active_practice_since=dt.date(2021, 1, 1)),
        _reviewer("lac-part-time", "Licensed Acupuncturist", weekly_clinical_hours=20),
        _reviewer("lac-suspended", "Licensed Acupuncturist", licenses=(suspended,)),
        _reviewer("ortho", "Orthopedic Surgery"),
    ]
    acme = Party(role="claims_administrator", name="Acme Insurance")
    ortiz = Party(role="requesting_provider", name="Dr. Ortiz")
    need = Need("CM25-0000001", TODAY, ("acupuncture",), "Hand Surgery", (acme, ortiz))
    (outcome,) = assign([need], roster, TODAY)
    assert outcome.reviewer == "lac"
    assert any("Licensed Acupuncturist" in r for r in outcome.reasons)
    assert "conflict of interest: affiliated with Acme Insurance" in outcome.others["lac-conflict"]
    # Without private facts the same reasons name each party's role, never its name.
    hidden = [r.text(private=False) for r in [*outcome.why, *outcome.why_not["lac-conflict"]]]
    assert "conflict of interest: affiliated with the claims administrator" in hidden
    assert "no affiliation with the claims administrator, the requesting provider" in hidden
    assert not any("Acme" in r or "Ortiz" in r for r in hidden)
    assert "years of active practice, where more than 5 are required" in outcome.others["lac-new"]
    assert "only 20 clinical hours a week, where at least 24 are required" in outcome.others["lac-part-time"]
    assert "no licence in good standing" in outcome.others["lac-suspended"]
    assert "not qualified: Acupuncture is decided by Licensed Acupuncturist" in outcome.others["ortho"]


def test_drugs_go_to_a_physician_of_a_similar_specialty() -> None:
    names, _ = qualifying_specialties("drug", "Pain Management")
    assert {"Pain Management", "Anesthesiology", "Physical Medicine & Rehabilitation"} <= names
    assert "Chiropractor" not in names and "Licensed Acupuncturist" not in names
    surgeons, _ = qualifying_specialties("surgery", "Hand Surgery")
    assert "Orthopedic Surgery" in surgeons and "Pain Management" not in surgeons


def test_the_batch_spreads_work_and_urgent_cases_win_scarce_slots() -> None:
    lac = "Licensed Acupuncturist"
    roster = [_reviewer("a", lac, capacity=2), _reviewer("b", lac, capacity=2, open_cases=1)]
    employer = (Party(role="employer", name="X"),)
    batch = [
        Need(f"CM25-000000{i}", TODAY + dt.timedelta(days=days), ("acupuncture",), None, employer)
        for i, days in enumerate([20, 1, 2, 30], 1)
    ]
    outcomes = {o.case_number: o for o in assign(batch, roster, TODAY)}
    assigned = [n for n, o in outcomes.items() if o.reviewer]
    assert sorted(assigned) == ["CM25-0000001", "CM25-0000002", "CM25-0000003"]  # 3 free slots
    assert outcomes["CM25-0000004"].reviewer is None  # the latest due waits
    assert [o.reviewer for o in outcomes.values()].count("a") == 2


def test_party_roles_read_as_words() -> None:
    from openimr.core.process.reasons import _party

    assert _party("ur_organization", "Example UR Services", private=False) == "the UR organization"
    assert (
        _party("claims_administrator", "Example Mutual", private=True)
        == "Example Mutual (claims administrator)"
    )
