"""The letter parser on the real dev letters, on re-laid-out copies of them, and on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter as LETTER_SIZE
from reportlab.pdfgen import canvas
from typer.testing import CliRunner

from letter_metrics import score
from openimr.cli import app
from openimr.core.dates import parse_date
from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import read_text
from openimr.core.letters.parse import parse_file, parse_paths, parse_text


@pytest.fixture(scope="module")
def gold(gold_path: Path) -> dict[str, dict]:
    return {r["file"]: r for r in map(json.loads, gold_path.read_text().splitlines()) if r}


@pytest.fixture(scope="module")
def texts(letters_dir: Path) -> dict[str, str]:
    return {p.name: read_text(p) for p in sorted(letters_dir.iterdir())}


@pytest.fixture(scope="module")
def parsed(letters_dir: Path) -> dict[str, dict]:
    out = {}
    for path, result in parse_paths([letters_dir]):
        assert not isinstance(result, LetterError), str(result)
        out[path.name] = result.to_json_dict()
    return out


def test_every_dev_letter_meets_the_accuracy_targets(gold: dict, parsed: dict) -> None:
    assert set(parsed) == set(gold)
    s = score(gold, parsed)
    assert s.header >= 0.995, s.misses[:10]
    assert s.issue >= 0.995, s.misses[:10]
    assert s.guideline >= 0.99
    assert s.rationale >= 0.98
    assert s.summary >= 0.98


def test_records_have_exactly_the_schema_keys(parsed: dict, schemas_dir: Path) -> None:
    schema = json.loads((schemas_dir / "letter.schema.json").read_text())
    issue_keys = set(schema["properties"]["issues"]["items"]["properties"])
    for record in parsed.values():
        assert set(record) == set(schema["properties"])
        assert all(set(i) == issue_keys for i in record["issues"])
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", record[k]) for k in ("decision_date",) if record[k])


def one_word_per_line(text: str) -> str:
    return "\n".join(text.split())


def decision_on_next_line(text: str) -> str:
    return re.sub(r":[ \t]*(Upheld|Overturned)", r":\n\1", text)


def crlf_and_padding(text: str) -> str:
    return text.replace("\n", "  \r\n")


@pytest.mark.parametrize("relayout", [one_word_per_line, decision_on_next_line, crlf_and_padding])
def test_other_layouts_of_the_same_letters_parse_the_same(relayout, texts: dict, gold: dict) -> None:
    pred = {name: parse_text(relayout(text), name).to_json_dict() for name, text in texts.items()}
    s = score(gold, pred)
    assert (s.header, s.issue, s.guideline) == (1.0, 1.0, 1.0), s.misses[:5]
    assert min(s.rationale, s.summary) >= 0.999


def test_partial_authorization_paragraphs(gold: dict, parsed: dict) -> None:
    partial = [(f, k) for f, r in gold.items() for k, i in enumerate(r["issues"]) if i["original_request"]]
    assert len(partial) >= 20  # both wordings occur in the dev letters
    for f, k in partial:
        got = parsed[f]["issues"][k]
        want = gold[f]["issues"][k]
        assert (got["original_request"], got["authorized"], got["item"]) == (
            want["original_request"],
            want["authorized"],
            want["item"],
        )


def test_seed_letter_without_header_block_states_credentials_in_prose(letters_dir: Path) -> None:
    seed = parse_file(next(letters_dir.glob("*.txt")))
    assert seed.case_number is None and seed.decision_date is None
    assert seed.reviewer.specialties == ["Licensed Acupuncturist"]
    assert seed.reviewer.license_states == ["California"]
    assert seed.claimant.age == 55 and seed.claimant.sex is None
    assert [i.decision for i in seed.issues] == ["Upheld"]


# --- crafted letters (our own wording) -------------------------------------------------------

CRAFTED = """Case Number: CM99-0000001
Date Assigned: 01/02/2020 Date of Injury: 3-4-19
Decision Date: February 5, 2020 UR Denial Date: 01/01/2020
Priority: Expedited Application
Received:
01/02/2020
HOW THE IMR FINAL DETERMINATION WAS MADE
Our reviewer looked at everything.
The Expert Reviewer has the following credentials:
State(s) of Licensure: Oregon, California
Certification(s)/Specialty: Orthopaedic Surgery, Hand
Surgery
CLINICAL CASE SUMMARY
This summary was written from the file:
The injured worker is a 41 year old woman who hurt her wrist lifting a crate.
IMR ISSUES, DECISIONS AND RATIONALES
Each decision follows:
Wrist brace for the
left wrist:
Overturned
Claims Administrator guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004.
ACME Review guideline: Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004.
Decision rationale: A brace is reasonable here.
Ten visits of physical therapy was the original request. Six visits of physical therapy was
authorized by the Claims Administrator. The remaining IMR eligible portion of the original
request, four visits of physical therapy is: Upheld
Claims Administrator guideline: The Claims Administrator did not cite any medical evidence.
ACME Review guideline: The Expert Reviewer did not cite any medical evidence for its decision.
Decision rationale: Six visits were enough. The rest is not needed.
"""


def test_crafted_letter_with_another_organization_and_wrapped_lines() -> None:
    letter = parse_text(CRAFTED, "crafted.txt")
    assert letter.case_number == "CM99-0000001"
    assert str(letter.date_of_injury) == "2019-03-04"
    assert str(letter.decision_date) == "2020-02-05"
    assert letter.priority == "Expedited"
    assert str(letter.application_received) == "2020-01-02"
    assert letter.reviewer.license_states == ["Oregon", "California"]
    assert letter.reviewer.specialties == ["Orthopaedic Surgery", "Hand Surgery"]
    assert (letter.claimant.age, letter.claimant.sex) == (41, "female")
    assert letter.clinical_summary.startswith("The injured worker is")
    first, second = letter.issues
    assert (first.item, first.decision) == ("Wrist brace for the left wrist", "Overturned")
    assert first.imro_guideline == "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004."
    assert first.rationale == "A brace is reasonable here."
    assert (second.original_request, second.authorized, second.item) == (
        "Ten visits of physical therapy",
        "Six visits of physical therapy",
        "four visits of physical therapy",
    )
    assert second.rationale == "Six visits were enough. The rest is not needed."


def test_the_organization_is_passed_in_not_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = CRAFTED.replace("ACME Review guideline:", "eReview guideline:")  # not a capitalized name
    monkeypatch.setenv("OPENIMR_ORGANIZATION", "eReview")
    assert parse_text(text, "crafted.txt").issues[0].imro_guideline is None
    first = parse_text(text, "crafted.txt", organization="eReview").issues[0]
    assert first.imro_guideline == "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004."
    assert first.claims_administrator_guideline == first.imro_guideline

    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "b.txt").write_text(text)
    for args in (["--organization", "eReview", "--jobs", "2"], []):  # the option, or its variable
        result = CliRunner().invoke(app, ["letters", "parse", str(tmp_path), *args])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["issues"][0]["imro_guideline"] for r in records] == [first.imro_guideline] * 2


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("11/18/2016", "2016-11-18"),
        ("11-9-16", "2016-11-09"),
        ("October 10, 2015", "2015-10-10"),
        ("Sept. 3 2014", "2014-09-03"),
        ("02/30/2016", None),
        ("soon", None),
        ("", None),
    ],
)
def test_dates(text: str, iso: str | None) -> None:
    assert (str(parse_date(text)) if parse_date(text) else None) == iso


# --- bad input ------------------------------------------------------------------------------


def _pdf(path: Path, lines: list[str], image_only: bool = False) -> Path:
    c = canvas.Canvas(str(path), pagesize=LETTER_SIZE)
    if image_only:
        c.rect(72, 72, 300, 300, fill=1)
    for n, line in enumerate(lines):
        c.drawString(72, 720 - 14 * n, line)
    c.save()
    return path


@pytest.fixture
def bad_files(tmp_path: Path, letters_dir: Path) -> dict[str, Path]:
    real = next(letters_dir.glob("*.pdf")).read_bytes()
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(real[: len(real) // 3])
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.txt"
    cut.write_text(CRAFTED[: CRAFTED.rindex("needed")])
    cut_label = tmp_path / "cut_label.txt"
    cut_label.write_text(CRAFTED[: CRAFTED.rindex("Decision rationale:")])
    return {
        "damaged": damaged,
        "empty": empty,
        "image": _pdf(tmp_path / "image.pdf", [], image_only=True),
        "other": _pdf(tmp_path / "other.pdf", ["Quarterly report", "Revenue rose."]),
        "cut": cut,
        "cut_label": cut_label,
    }


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("damaged", "damaged"),
        ("empty", "empty file"),
        ("image", "no text layer"),
        ("other", "not an IMR Final Determination letter"),
        ("cut", "cut off"),
        ("cut_label", "cut off"),
    ],
)
def test_bad_files_raise_a_clear_error(bad_files: dict[str, Path], name: str, problem: str) -> None:
    with pytest.raises(LetterError) as err:
        parse_file(bad_files[name])
    assert err.value.file == bad_files[name].name
    assert problem in err.value.problem
    assert "\n" not in str(err.value)


def test_cli_reports_each_bad_file_and_still_parses_the_rest(bad_files: dict, letters_dir: Path) -> None:
    good = sorted(letters_dir.glob("*.pdf"))[:2]
    paths = [good[0], *bad_files.values(), good[1]]
    result = CliRunner().invoke(app, ["letters", "parse", *map(str, paths), "--jobs", "2"])
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == [good[0].name, good[1].name]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(bad_files)
    assert all(any(str(p) in e for e in errors) for p in bad_files.values())


def test_cli_formats_and_output_file(tmp_path: Path, letters_dir: Path) -> None:
    out = tmp_path / "letters.json"
    result = CliRunner().invoke(app, ["letters", "parse", str(letters_dir), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    records = json.loads(out.read_text())
    assert len(records) == len(list(letters_dir.iterdir()))
    table = CliRunner().invoke(app, ["letters", "parse", str(next(letters_dir.glob("*.txt"))), "-f", "table"])
    assert table.exit_code == 0 and "Licensed Acupuncturist" in table.stdout


@pytest.mark.parametrize(
    ("summary", "age", "sex"),
    [
        ("The injured worker is a forty-two year old man who fell from a ladder.", 42, "male"),
        ("Records were hard to read. This is a 61-year-old woman with neck pain.", 61, "female"),
        ("The claimant is a 55 year old patient. He reports hand pain.", 55, None),
        ("The injured worker is a female whose birth date is unclear.", None, "female"),
    ],
)
def test_claimant_age_and_sex_from_the_opening_sentences(
    summary: str, age: int | None, sex: str | None
) -> None:
    from openimr.core.letters.header import claimant

    assert (claimant(summary).age, claimant(summary).sex) == (age, sex)


def test_a_last_rationale_ending_in_a_citation_bracket_is_complete() -> None:
    text = CRAFTED.replace("The rest is not needed.", "The rest is not needed (MTUS, 2009)")
    assert parse_text(text, "crafted.txt").issues[-1].rationale.endswith("(MTUS, 2009)")
