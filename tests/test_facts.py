"""Clinical facts from case summaries: crafted sentences per fact kind (with negation and
uncertainty), and a run over every dev summary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from openimr.core.facts import Fact, Facts, extract_facts


def only(facts: Facts, kind: str, value: str | None = None) -> Fact:
    found = [f for f in facts.facts if f.kind == kind and (value is None or f.value == value)]
    assert len(found) == 1, found
    return found[0]


# --- prior sessions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "therapy", "count"),
    [
        ("She completed 12 sessions of physical therapy last year.", "physical_therapy", 12),
        ("He has had 24 chiropractic visits so far.", "chiropractic", 24),
        ("Prior care included acupuncture x 6 for the neck.", "acupuncture", 6),
        ("He attended twelve (12) physical therapy sessions.", "physical_therapy", 12),
        ("She has completed 5 of 8 occupational therapy sessions.", "occupational_therapy", 5),
        ("Treatment has included physical therapy (at least 10 visits) and rest.", "physical_therapy", 10),
        ("Prior massage therapy was tried.", "massage", None),
    ],
)
def test_prior_sessions_and_count(text: str, therapy: str, count: int | None) -> None:
    facts = extract_facts(text)
    assert facts.prior_sessions(therapy), facts
    assert facts.prior_session_count(therapy) == count


def test_requested_and_denied_sessions_are_not_prior() -> None:
    text = (
        "He completed 6 sessions of physical therapy. A request for 12 sessions of acupuncture was "
        "submitted. The request for chiropractic care 2 times a week for 3 weeks was non-certified."
    )
    facts = extract_facts(text)
    assert facts.prior_session_count("physical_therapy") == 6
    assert facts.prior_sessions("acupuncture") == []
    requested = facts.of("prior_therapy", "acupuncture", hypothetical=True)
    assert [f.number for f in requested] == [12] and requested[0].hypothetical
    chiro = facts.of("prior_therapy", "chiropractic", hypothetical=True)
    assert chiro[0].number == 6 and chiro[0].hypothetical


def test_therapy_never_done_is_negated() -> None:
    facts = extract_facts("The patient has not had physical therapy for this injury.")
    assert facts.prior_sessions("physical_therapy") == []
    assert only(facts, "prior_therapy").negated


# --- functional improvement -------------------------------------------------------------------


def test_no_documentation_of_functional_improvement_is_negated() -> None:
    facts = extract_facts("There is no documentation of functional improvement with prior therapy.")
    evidence = facts.has("functional_improvement", "functional")
    assert not evidence and evidence.status == "negated"
    assert evidence.negated[0].snippet == "functional improvement"
    assert "no documentation of" in evidence.negated[0].modifiers


@pytest.mark.parametrize(
    "text",
    [
        "He finished acupuncture without benefit.",
        "She reports no improvement after the injections.",
        "Chiropractic care did not help.",
        "The medication was not effective.",
    ],
)
def test_no_benefit_is_negated(text: str) -> None:
    evidence = extract_facts(text).has("functional_improvement")
    assert evidence.status == "negated", evidence


def test_no_improvement_with_a_therapy_negates_the_improvement_not_the_therapy() -> None:
    facts = extract_facts("She reports no improvement with physical therapy.")
    (therapy,) = facts.of("prior_therapy")
    assert therapy.value == "physical_therapy" and therapy.affirmed
    assert all(f.negated for f in facts.of("functional_improvement"))
    assert extract_facts("She has had no physical therapy.").of("prior_therapy")[0].negated


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Conservative treatment has failed.", "conservative_care"),
        ("Physical therapy failed to improve her pain.", "physical_therapy"),
        ("He has failed over-the-counter NSAIDs.", "nsaid"),
    ],
)
def test_failed_conservative_care_before_or_after_the_treatment(text: str, value: str) -> None:
    (fact,) = extract_facts(text).of("failed_conservative_care")
    assert fact.value == value and fact.affirmed


def test_a_failure_with_no_treatment_near_it_is_no_fact() -> None:
    assert not extract_facts("The appeal failed.").of("failed_conservative_care")


def test_documented_functional_improvement_is_affirmed() -> None:
    facts = extract_facts("Therapy produced objective functional improvement, with improved ability to lift.")
    evidence = facts.has("functional_improvement", "functional")
    assert evidence and evidence.status == "affirmed"
    assert len(evidence.affirmed) == 2


def test_maximum_medical_improvement_is_not_a_benefit() -> None:
    assert not extract_facts("He has not reached maximum medical improvement.").of("functional_improvement")


# --- pain -------------------------------------------------------------------------------------


def test_pain_scores_with_and_without_medication() -> None:
    facts = extract_facts("Pain is rated 4/10 with medications and 8 out of 10 without medications.")
    assert [(f.number, f.qualifier) for f in facts.pain_scores()] == [
        (4.0, "with_medication"),
        (8.0, "without_medication"),
    ]
    # "without medications" qualifies the score; it does not negate it.
    assert not any(f.negated for f in facts.pain_scores())
    assert facts.pain_scores("without_medication")[0].snippet == "8 out of 10"


def test_pain_range_and_dates_are_not_scores() -> None:
    facts = extract_facts("On 10/10/2016 her back pain was rated 3-6 out of 10. Strength was 4/5.")
    assert [f.number for f in facts.pain_scores()] == [6.0]


# --- dates and durations ----------------------------------------------------------------------


def test_injury_date_and_time_since_injury() -> None:
    facts = extract_facts(
        "The worker sustained an industrial injury on 3-15-2015. He was seen on January 4, 2017."
    )
    assert facts.injury_date == dt.date(2015, 3, 15)
    assert facts.days_since_injury == (dt.date(2017, 1, 4) - dt.date(2015, 3, 15)).days


def test_symptom_duration() -> None:
    fact = only(extract_facts("She has had low back pain for 6 months."), "symptom_duration")
    assert fact.number == 180 and fact.snippet == "for 6 months"


# --- surgery ----------------------------------------------------------------------------------


def test_surgery_and_date() -> None:
    fact = only(extract_facts("He is status post right carpal tunnel release on 11-9-2016."), "surgery")
    assert fact.value == "right carpal tunnel release"
    assert fact.date == dt.date(2016, 11, 9)
    assert fact.historical and not fact.hypothetical


def test_requested_surgery_is_hypothetical() -> None:
    fact = only(extract_facts("The plan is a left knee arthroscopy."), "surgery")
    assert fact.hypothetical


# --- neurologic deficits and red flags --------------------------------------------------------


def test_neuro_deficits_affirmed() -> None:
    facts = extract_facts(
        "Exam showed decreased sensation in the L5 dermatome, weakness 4/5 of the EHL and "
        "diminished ankle reflexes, consistent with radiculopathy."
    )
    values = {f.value for f in facts.of("neuro_deficit") if f.affirmed}
    assert {"decreased_sensation", "weakness", "reflex_change", "radiculopathy"} <= values
    assert facts.has("neuro_deficit", "weakness")


def test_neuro_negations_and_uncertainty() -> None:
    facts = extract_facts(
        "There are no red flags. He is neurologically intact. She denies numbness or weakness. "
        "Possible lumbar radiculopathy was noted."
    )
    assert facts.has("red_flag").status == "negated"
    assert only(facts, "neuro_deficit", "any").negated
    assert facts.has("neuro_deficit", "paresthesia").status == "negated"
    assert facts.has("neuro_deficit", "weakness").status == "negated"
    assert facts.has("neuro_deficit", "radiculopathy").status == "uncertain"


def test_dermatome_sensation_named_by_roots_is_a_deficit() -> None:
    facts = extract_facts("The exam was notable for decreased C5 and C6 dermatome sensation on the left.")
    assert facts.has("neuro_deficit", "decreased_sensation").status == "affirmed"


def test_signs_of_internal_derangement() -> None:
    facts = extract_facts(
        "The right knee had an effusion and a positive McMurray's test. Speed's and Yergason's tests "
        "were positive at the shoulder. The ankle showed no instability."
    )
    affirmed = {f.value for f in facts.of("internal_derangement") if f.affirmed}
    assert affirmed == {"effusion", "provocative_test"}
    assert facts.has("internal_derangement", "instability").status == "negated"


def test_negative_provocative_tests_are_not_derangement() -> None:
    facts = extract_facts("Negative McMurray's test. Lachman was negative. There was no joint effusion.")
    assert not [f for f in facts.of("internal_derangement") if f.affirmed]


def test_red_flags_affirmed() -> None:
    facts = extract_facts("Imaging showed a compression fracture. He reports bladder incontinence.")
    assert {f.value for f in facts.of("red_flag") if f.affirmed} == {"fracture", "cauda_equina"}


# --- failed conservative care ------------------------------------------------------------------


def test_failed_conservative_care() -> None:
    facts = extract_facts(
        "Pain persisted despite physical therapy. Naproxen was tried without relief. "
        "She failed conservative treatment."
    )
    assert {f.value for f in facts.of("failed_conservative_care") if f.affirmed} == {
        "physical_therapy",
        "nsaid",
        "conservative_care",
    }


def test_no_evidence_of_failed_conservative_care_is_negated() -> None:
    facts = extract_facts("The MRI was denied as there was no evidence the patient failed conservative care.")
    assert facts.has("failed_conservative_care").status == "negated"


# --- medications --------------------------------------------------------------------------------


def test_medication_history_and_duration() -> None:
    facts = extract_facts(
        "He has been on Norco since 2014 and has taken cyclobenzaprine for at least 6 months. "
        "The last visit was on 7-1-2016."
    )
    norco = facts.medications("opioid")[0]
    assert norco.value == "norco" and norco.date == dt.date(2014, 7, 1) and norco.number == 731
    relaxant = facts.medications("muscle_relaxant")[0]
    assert relaxant.number == 180 and relaxant.snippet == "cyclobenzaprine for at least 6 months"
    assert facts.medication_days("muscle_relaxant") == 180


def test_requested_and_refused_medications() -> None:
    facts = extract_facts("Tramadol was requested. She does not take NSAIDs.")
    assert facts.medications() == []
    assert facts.of("medication", hypothetical=True)[0].hypothetical
    assert only(facts, "medication", "nsaids").negated


# --- GI risk -------------------------------------------------------------------------------------


def test_gi_risk_factors() -> None:
    facts = extract_facts(
        "The patient is a 70-year-old man with a history of GERD and a prior GI bleed, "
        "on aspirin and prednisone."
    )
    assert facts.age == 70
    values = {f.value for f in facts.of("gi_risk") if not f.negated}
    assert values == {"age_over_65", "gerd", "gi_bleed", "aspirin", "corticosteroid"}


def test_no_gi_symptoms_is_negated() -> None:
    facts = extract_facts("A 40-year-old woman who denies dyspepsia and has no history of peptic ulcer.")
    assert facts.has("gi_risk").status == "negated"
    assert not facts.of("gi_risk", "age_over_65")


# --- urine drug screens ---------------------------------------------------------------------------


def test_urine_drug_screen() -> None:
    facts = extract_facts(
        "A urine drug screen on 5-2-2016 was consistent with prescribed medications. "
        "A later UDS was inconsistent."
    )
    first, second = facts.of("urine_drug_screen")
    assert (first.date, first.qualifier) == (dt.date(2016, 5, 2), "consistent")
    assert second.qualifier == "inconsistent" and second.affirmed


def test_no_urine_drug_screen_is_negated() -> None:
    facts = extract_facts("There is no documentation of a urine drug screen.")
    assert facts.has("urine_drug_screen").status == "negated"


# --- work status and UR action ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("He is working full duty.", "full_duty"),
        ("She returned to modified duty last week.", "modified_duty"),
        ("He remains temporarily totally disabled.", "off_work"),
        ("The worker has not returned to work.", "off_work"),
        ("She is currently working with modified duties.", "modified_duty"),
    ],
)
def test_work_status(text: str, status: str) -> None:
    assert extract_facts(text).work_status == status


def test_ur_actions() -> None:
    facts = extract_facts(
        "Utilization review modified the request for acupuncture to 6 sessions. "
        "The request for an MRI was non-certified by utilization review."
    )
    assert [(f.value, f.number) for f in facts.ur_actions] == [("modified", 6), ("denied", None)]


# --- the model ----------------------------------------------------------------------------------


def test_empty_and_blank_summaries() -> None:
    assert extract_facts("").facts == []
    assert extract_facts("   \n").facts == []


def test_facts_serialise_round_trip() -> None:
    facts = extract_facts("She completed 12 sessions of physical therapy with no functional improvement.")
    assert Facts.model_validate_json(facts.model_dump_json()) == facts


# --- every dev summary ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_summaries(gold_path: Path) -> list[str]:
    with gold_path.open(encoding="utf-8") as fh:
        return [json.loads(line).get("clinical_summary") or "" for line in fh if line.strip()]


def test_dev_summaries(dev_summaries: list[str]) -> None:
    results = [extract_facts(text) for text in dev_summaries]
    for text, facts in zip(dev_summaries, results, strict=True):
        for fact in facts.facts:
            assert text[fact.start : fact.end] == fact.snippet
            assert fact.snippet.strip()
    with_facts = sum(bool(f.facts) for f in results)
    assert with_facts >= 0.95 * len(results)

    def share(kind: str) -> float:
        return sum(bool(f.of(kind, hypothetical=True)) for f in results) / len(results)

    # Kinds most summaries state; the floors sit well under what the dev set gives (see the report).
    assert share("injury_date") >= 0.8
    assert share("age") >= 0.8
    assert share("ur_action") >= 0.6
    assert share("prior_therapy") >= 0.5
    assert share("medication") >= 0.4
    assert share("neuro_deficit") >= 0.3
    assert share("pain_score") >= 0.2
    assert share("work_status") >= 0.2


# --- objective findings apart from complaints -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The patient complains of numbness and tingling in the left leg.", "paresthesia"),
        ("She reports weakness in the right hand when gripping.", "weakness"),
        ("He has paresthesias in both feet at night.", "paresthesia"),
        ("She describes pain radiating down the left leg.", "radiculopathy"),
        ("Diagnoses: lumbar radiculopathy.", "radiculopathy"),
        ("On exam she reports numbness of the thumb.", "paresthesia"),
    ],
)
def test_a_complaint_is_never_an_objective_finding(text: str, value: str) -> None:
    found = [f for f in extract_facts(text).of("neuro_deficit") if f.affirmed]
    assert found and {f.value for f in found} == {value}, found
    assert all(f.qualifier == "complaint" for f in found)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Examination shows 4/5 strength of the left extensor hallucis longus.", "weakness"),
        ("Sensation was decreased in the left L5 dermatome.", "decreased_sensation"),
        ("Reflexes are diminished at the left ankle.", "reflex_change"),
        ("Straight leg raise was positive on the left at 40 degrees.", "radiculopathy"),
        (
            "EMG/NCS of the lower extremities dated 1/2/2016 showed chronic left L5 radiculopathy.",
            "radiculopathy",
        ),
        ("The MRI showed nerve root impingement at L5-S1.", "radiculopathy"),
        ("Physical examination revealed numbness in the L5 distribution.", "paresthesia"),
    ],
)
def test_findings_of_examination_imaging_and_electrodiagnostics_are_objective(text: str, value: str) -> None:
    found = [f for f in extract_facts(text).of("neuro_deficit") if f.affirmed and f.qualifier == "objective"]
    assert value in {f.value for f in found}, extract_facts(text).of("neuro_deficit")


def test_a_normal_examination_denies_objective_findings() -> None:
    (fact,) = extract_facts("He is neurologically intact.").of("neuro_deficit")
    assert fact.negated and fact.qualifier == "objective"


# --- functional improvement as 8 CCR 9792.20 defines it ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "After six visits she walks longer and has a longer walking tolerance.",
        "He has returned to modified duty since the injections.",
        "Her work restrictions were reduced after therapy.",
        "With acupuncture she uses less pain medication.",
        "She is now able to perform her activities of daily living.",
        "Therapy improved his ability to lift groceries.",
    ],
)
def test_function_itself_is_functional_improvement(text: str) -> None:
    assert extract_facts(text).has("functional_improvement", "functional"), extract_facts(text).facts


@pytest.mark.parametrize(
    "text",
    [
        "He reports 50% pain relief with acupuncture.",
        "Pain decreased from 8/10 to 4/10 with the medication.",
        "She has less pain after the sessions.",
    ],
)
def test_pain_relief_alone_is_not_functional_improvement(text: str) -> None:
    facts = extract_facts(text)
    assert not facts.has("functional_improvement", "functional"), facts.facts
    assert facts.has("functional_improvement", "pain_relief")


def test_not_returning_to_work_is_no_functional_improvement() -> None:
    evidence = extract_facts("He has not returned to work.").has("functional_improvement", "functional")
    assert evidence.status == "negated"


# --- conservative care: tried, for how long, failed ---------------------------------------------


def test_failed_conservative_care_says_for_how_long() -> None:
    (fact,) = extract_facts("Physical therapy for 8 weeks failed to improve her pain.").of(
        "failed_conservative_care"
    )
    assert fact.value == "physical_therapy" and fact.affirmed and fact.number == 56
