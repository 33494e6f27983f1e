"""Crafted edge cases of ``openimr.core.requests.parse`` (generic item strings, not taken from letters)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from openimr.cli.requests import app
from openimr.core.requests import parse


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Norco 10/325mg #60", "drug"),
        ("Lidocaine 5% patch #30", "drug"),
        ("Xyzzol 20mg #30", "drug"),
        ("PT/OT 12 sessions", "physical_therapy"),
        ("OT/PT 12 sessions", "occupational_therapy"),
        ("Chiropractic manipulation 2x4", "chiropractic"),
        ("Electroacupuncture 6 visits", "acupuncture"),
        ("Myofascial release 6 sessions", "massage"),
        ("TENS unit rental", "electrotherapy"),
        ("MRI of the lumbar spine", "imaging"),
        ("Ultrasound of the shoulder", "imaging"),
        ("Ultrasound 2 times 4", "physical_therapy"),
        ("Heat pad", "dme"),
        ("EMG/NCV bilateral lower extremities", "diagnostic_test"),
        ("Urine drug screen", "lab"),
        ("Pre-op labs: PT/PTT", "lab"),
        ("Labs to include: EKG", "diagnostic_test"),
        ("Orthopedic surgeon consultation", "consultation"),
        ("Referral to chiropractor", "consultation"),
        ("Referral to chiropractor 2 times a week for 3 weeks", "chiropractic"),
        ("Follow-up office visit", "evaluation"),
        ("Cognitive behavioral therapy 6 sessions", "psychological"),
        ("Functional restoration program 80 hours", "program"),
        ("Inpatient stay 2 days", "facility"),
        ("Home health aide 4 hours a day", "home_health"),
        ("Cervical epidural steroid injection C5-6", "injection"),
        ("Left knee arthroscopy with meniscectomy", "surgery"),
        ("Assistant surgeon", "surgery"),
        ("Wheelchair purchase", "dme"),
        ("Extracorporeal shockwave therapy", "other"),
        ("Hand therapy 8 sessions", "physical_therapy"),
    ],
)
def test_category(text: str, category: str) -> None:
    assert parse(text).category == category


@pytest.mark.parametrize(
    ("text", "name", "strength", "quantity"),
    [
        ("Norco 10/325mg #60", "Norco", "10/325mg", 60),
        ("Retrospective Tramadol (Ultram) 50 mg tab #90 DOS 1/2/17", "Tramadol", "50mg", 90),
        ("Two refills of Gabapentin 600mg #90", "Gabapentin", "600mg", 90),
        ("Ketoprofen 10%/Lidocaine 5%/Menthol, 240gm #1", "Ketoprofen/Lidocaine/Menthol", "10%/5%", 1),
        ("Flurbiprofen 20%, Baclofen 2% cream", "Flurbiprofen/Baclofen", "20%/2%", None),
        ("Hydrocodone/APAP 7.5-325mg qty: 30", "Hydrocodone/APAP", "7.5-325mg", 30),
        ("Omeprazole DR 20mg capsule", "Omeprazole DR", "20mg", None),
        ("Voltaren gel 1% #100 grams", "Voltaren", "1%", 100),
        ("Zolpidem", "Zolpidem", None, None),
    ],
)
def test_drug_fields(text: str, name: str, strength: str | None, quantity: int | None) -> None:
    r = parse(text)
    assert r.category == "drug"
    assert r.drug is not None
    assert (r.drug.name, r.drug.strength, r.drug.quantity) == (name, strength, quantity)
    assert r.body_parts == []
    assert r.sessions is None


@pytest.mark.parametrize(
    ("text", "ingredients", "drug_class"),
    [
        ("Norco 10/325mg #60", ["hydrocodone", "acetaminophen"], "opioid"),
        ("Flexeril 10mg", ["cyclobenzaprine"], "muscle relaxant"),
        ("Protonix 40mg", ["pantoprazole"], "proton-pump inhibitor"),
        ("Lyrica 75mg", ["pregabalin"], "anticonvulsant"),
        ("Cymbalta 60mg", ["duloxetine"], "antidepressant"),
        ("Naproxen sodium 550mg", ["naproxen"], "nsaid"),
        ("Diclofenac 1.5% solution", ["diclofenac"], "topical analgesic"),
        ("Ambien 10mg", ["zolpidem"], "sleep aid"),
        ("Xanax 0.5mg", ["alprazolam"], "benzodiazepine"),
        ("Xyzzol 20mg", [], None),
    ],
)
def test_drug_dictionary(text: str, ingredients: list[str], drug_class: str | None) -> None:
    drug = parse(text).drug
    assert drug is not None
    assert (drug.ingredients, drug.drug_class) == (ingredients, drug_class)


@pytest.mark.parametrize(
    ("text", "sessions", "freq", "weeks"),
    [
        ("Physical therapy 2x6", 12, 2, 6),
        ("Acupuncture 1-2 times per week for 6 weeks", 12, 2, 6),
        ("Chiropractic twice weekly for 4 weeks", 8, 2, 4),
        ("Physical therapy 8 visits, 2 times a week", 8, 2, None),
        ("Physical therapy x 10", 10, None, None),
        ("Massage therapy for 4 weeks", None, None, 4),
        ("Six (6) sessions of massage", 6, None, None),
        ("Four acupuncture sessions for the neck and two for the wrist (2)", 6, None, None),
        ("MRI of the knee times 1", None, None, None),
        ("Norco 10/325mg twice daily for 2 weeks #60", None, None, None),
    ],
)
def test_counts(text: str, sessions: int | None, freq: float | None, weeks: float | None) -> None:
    r = parse(text)
    assert (r.sessions, r.frequency_per_week, r.duration_weeks) == (sessions, freq, weeks)


@pytest.mark.parametrize(
    ("text", "parts", "laterality"),
    [
        ("MRI right knee", ["knee"], "right"),
        ("X-ray of both knees", ["knee"], "bilateral"),
        ("MRI of the right and left shoulder", ["shoulder"], "bilateral"),
        ("PT left wrist and elbow", ["wrist", "elbow"], "left"),
        ("PT neck and left shoulder", ["cervical spine", "shoulder"], None),
        ("PT right hip and left ankle", ["hip", "ankle"], None),
        ("EMG of the LUE", ["arm"], "left"),
        ("ESI L4-L5 and L5-S1", ["lumbar spine"], None),
        ("CT of the spine", ["spine"], None),
        ("Spine consult for the cervical", ["cervical spine"], None),
        ("Rotator cuff repair, right", [], "right"),
        ("Back brace", ["back"], None),
        ("Knee walker", [], None),
        ("Norco 10/325mg for knee pain", [], None),
    ],
)
def test_anatomy(text: str, parts: list[str], laterality: str | None) -> None:
    r = parse(text)
    assert (r.body_parts, r.laterality) == (parts, laterality)
    assert len(r.body_regions) == len(r.body_parts)


def test_regions() -> None:
    assert parse("PT neck, right shoulder and left knee").body_regions == [
        "spine",
        "upper extremity",
        "lower extremity",
    ]


@pytest.mark.parametrize(
    ("text", "retro", "dos", "postop"),
    [
        ("Retro Norco 10/325mg", True, None, False),
        ("Norco 10/325mg DOS: 3/4/16", True, dt.date(2016, 3, 4), False),
        ("Norco 10/325mg date of service 2017-01-09", True, dt.date(2017, 1, 9), False),
        ("Norco 10/325mg DOS 13/45/16", True, None, False),
        ("Ibuprofen 800mg per 1/2/2017 order", False, None, False),
        ("Post-op physical therapy 12 sessions", False, None, True),
        ("Postoperative cold therapy unit", False, None, True),
        ("Pre-op medical clearance", False, None, False),
        ("Associated surgical service: EKG", False, None, True),
    ],
)
def test_flags(text: str, retro: bool, dos: dt.date | None, postop: bool) -> None:
    r = parse(text)
    assert (r.retrospective, r.date_of_service, r.postoperative) == (retro, dos, postop)


@pytest.mark.parametrize(
    "text", ["", "   ", "\x00\x01binary", "x" * 1_000_000, "每周两次物理治疗六周", "Физиотерапия"]
)
def test_bad_input_is_other(text: str) -> None:
    r = parse(text)
    assert r.category == "other"
    assert r.model_dump(exclude={"category"}) == parse("").model_dump(exclude={"category"})


def test_schema_keys_are_all_present() -> None:
    keys = set(parse("Norco 10/325mg #60").model_dump())
    assert {
        "category",
        "drug",
        "sessions",
        "frequency_per_week",
        "duration_weeks",
        "body_parts",
        "laterality",
        "retrospective",
        "date_of_service",
        "postoperative",
    } <= keys


def test_cli_arguments_jsonl_in_order() -> None:
    result = CliRunner().invoke(app, ["parse", "Norco 10/325mg #60", "MRI left knee"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["category"] for r in rows] == ["drug", "imaging"]
    assert rows[1]["laterality"] == "left"


def test_cli_table_and_stdin() -> None:
    result = CliRunner().invoke(
        app, ["parse", "--file", "-", "--format", "table"], input="Norco #60\n\nPT 2x6\n"
    )
    assert result.exit_code == 0, result.output
    assert "Norco" in result.stdout
    assert "12/2/6" in result.stdout


def test_cli_needs_items() -> None:
    assert CliRunner().invoke(app, ["parse"]).exit_code != 0


def test_cli_a_file_that_cannot_be_read_is_one_line(tmp_path) -> None:
    missing = tmp_path / "missing.txt"
    result = CliRunner().invoke(app, ["parse", "--file", str(missing)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: {missing}: cannot read it (No such file or directory)"
