"""The administration pages (roster, accounts), withdrawal, reassignment, the ineligibility
notice, the conflict and error pages and the intake form, each as the roles that may and may not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from helpers import csrf_token, demo_app
from openimr.core.guidelines import load_rules
from openimr.core.process import assignment
from openimr.core.process.roster import License
from openimr.services import demo_corpus
from openimr.services import web_demo as demo
from openimr.store.schema import AuditRow, ReviewerRow, UserRow

TODAY = dt.date.today()


class Person:
    """A browser signed in as one demo account (its own cookies), posting forms with its CSRF token."""

    def __init__(self, app, username: str) -> None:
        self.client = TestClient(app)
        page = self.client.get("/login")
        token = csrf_token(page.text)
        answer = self.client.post(
            "/login",
            data={"username": username, "password": demo.PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_token(self.client.get("/worklist").text)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


@pytest.fixture
def app(demo_db: Path, tmp_path: Path) -> Iterator:
    with demo_app("sqlite", demo_db, tmp_path) as application:
        demo_corpus.load(application.state.store, dt.date.today())
        yield application


@pytest.fixture
def people(app) -> dict[str, Person]:
    return {name: Person(app, name) for name in ("admin", "coordinator", "analyst", "lac-01")}


def cases_of(app, status: str, reviewer: str | None = None) -> list[str]:
    client = TestClient(app)
    token = client.post("/api/tokens", json={"username": "admin", "password": demo.PASSWORD}).json()["token"]
    listed = client.get("/api/cases?limit=200", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    return [
        c["case_number"]
        for c in listed
        if c["status"] == status and (reviewer is None or c["reviewer"] == reviewer)
    ]


def audit(app, action: str) -> list[AuditRow]:
    with app.state.store.transaction() as s:
        rows = list(s.scalars(select(AuditRow).where(AuditRow.action == action)))
        s.expunge_all()
        return rows


# The menu and who may open each page ----------------------------------------------------------


def test_the_admin_menu_has_the_roster_and_the_accounts_and_others_only_what_they_may(people) -> None:
    menus = {name: p.get("/worklist").text.split("</nav>")[0] for name, p in people.items()}
    assert 'href="/admin/users"' in menus["admin"] and 'href="/admin/reviewers"' in menus["admin"]
    assert (
        'href="/admin/users"' not in menus["coordinator"]
        and 'href="/admin/reviewers"' in menus["coordinator"]
    )
    assert 'href="/admin/reviewers"' in menus["analyst"] and 'href="/admin/users"' not in menus["analyst"]
    assert "/admin/" not in menus["lac-01"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/admin/users", {"admin"}),
        ("/admin/reviewers", {"admin", "coordinator", "analyst"}),
    ],
)
def test_each_admin_page_opens_for_its_roles_and_refuses_the_rest_with_the_menu(
    people, path, allowed
) -> None:
    for name, person in people.items():
        page = person.get(path)
        if name in allowed:
            assert page.status_code == 200, (name, page.text)
        else:
            assert page.status_code == 403, name
            assert 'aria-label="Main"' in page.text and "Sign out" in page.text  # the menu is kept
    anonymous = TestClient(people["admin"].client.app).get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_a_missing_case_answers_404_with_the_menu_and_a_way_back(people) -> None:
    page = people["coordinator"].get("/cases/CM99-9999999")
    assert page.status_code == 404
    assert 'href="/dashboard"' in page.text and "Back to your dashboard" in page.text


# Accounts -------------------------------------------------------------------------------------


def test_the_admin_creates_an_account_that_can_sign_in(app, people) -> None:
    made = people["admin"].post(
        "/admin/users", {"username": "nurse.kay", "password": "long-enough-1", "role": "analyst"}
    )
    assert made.status_code == 200 and "Account nurse.kay created" in made.text
    assert "<td>nurse.kay</td>" in made.text
    client = TestClient(app)
    answer = client.post("/api/tokens", json={"username": "nurse.kay", "password": "long-enough-1"})
    assert answer.status_code == 201
    assert [r.entity_key for r in audit(app, "create") if r.entity == "user"] == ["nurse.kay"]


def test_a_bad_account_form_names_each_field_and_keeps_what_was_typed(people) -> None:
    page = people["admin"].post(
        "/admin/users", {"username": "bad name<x>", "password": "short", "role": "reviewer"}
    )
    assert page.status_code == 422
    assert "Username:" in page.text and "Password:" in page.text
    assert "bad name&lt;x&gt;" in page.text and "<x>" not in page.text
    no_code = people["admin"].post(
        "/admin/users", {"username": "rev9", "password": "long-enough-1", "role": "reviewer"}
    )
    assert no_code.status_code == 422 and "reviewer code" in no_code.text


def test_only_the_admin_may_create_or_disable_accounts(app, people) -> None:
    for name in ("coordinator", "analyst", "lac-01"):
        made = people[name].post(
            "/admin/users", {"username": f"x{name}", "password": "long-enough-1", "role": "admin"}
        )
        assert made.status_code == 403, name
    with app.state.store.transaction() as s:
        analyst = s.scalar(select(UserRow.id).where(UserRow.username == "analyst"))
    assert (
        people["coordinator"].post(f"/admin/users/{analyst}/active", {"active": "false"}).status_code == 403
    )
    assert people["analyst"].get("/worklist").status_code == 200


def test_a_disabled_account_is_signed_out_and_cannot_sign_in_and_the_admin_cannot_disable_itself(
    app, people
) -> None:
    with app.state.store.transaction() as s:
        ids = dict(s.execute(select(UserRow.username, UserRow.id)).all())
    done = people["admin"].post(f"/admin/users/{ids['analyst']}/active", {"active": "false"})
    assert done.status_code == 200 and "Account analyst disabled" in done.text
    assert people["analyst"].get("/worklist", follow_redirects=False).status_code == 303
    refused = TestClient(app).post("/api/tokens", json={"username": "analyst", "password": demo.PASSWORD})
    assert refused.status_code == 401
    mine = people["admin"].post(f"/admin/users/{ids['admin']}/active", {"active": "false"})
    assert mine.status_code == 422 and "signed in with" in mine.text
    assert people["admin"].get("/admin/users").status_code == 200


# The roster -----------------------------------------------------------------------------------

GOOD = "NEW-01,Dr. Demo Newcomer,CA:MD:A1:active,Orthopedic Surgery,2001-05-01,30,,4"
HEADER = "code,name,licenses,specialties,active_practice_since,weekly_clinical_hours,affiliations,capacity"


def test_a_roster_with_bad_rows_lists_every_one_by_line_and_imports_nothing(app, people) -> None:
    csv = "\n".join([HEADER, GOOD, "BAD-02,Dr. Bad,,Neurology,not-a-date,40,,3", ",,,,,,,"]).encode()
    page = people["coordinator"].post("/admin/reviewers", files={"roster": ("roster.csv", csv, "text/csv")})
    assert page.status_code == 422
    assert "line 3, licenses" in page.text and "line 3, active_practice_since" in page.text
    assert "line 4, code" in page.text
    with app.state.store.transaction() as s:
        assert s.scalar(select(ReviewerRow).where(ReviewerRow.code == "NEW-01")) is None


def test_a_good_roster_is_imported_and_listed_and_importing_it_again_changes_nothing(people) -> None:
    csv = "\n".join([HEADER, GOOD]).encode()
    first = people["admin"].post("/admin/reviewers", files={"roster": ("r.csv", csv, "text/csv")})
    assert first.status_code == 200 and "1 created" in first.text and "Dr. Demo Newcomer" in first.text
    again = people["admin"].post("/admin/reviewers", files={"roster": ("r.csv", csv, "text/csv")})
    assert "0 created, 0 updated, 1 unchanged" in again.text
    json_roster = b'[{"code": "X"}]'
    bad = people["admin"].post(
        "/admin/reviewers", files={"roster": ("r.json", json_roster, "application/json")}
    )
    assert bad.status_code == 422 and "reviewer 1, name" in bad.text


def test_an_analyst_sees_the_roster_without_the_import_form_and_may_not_import(people) -> None:
    page = people["analyst"].get("/admin/reviewers")
    assert "LAC-01" in page.text and 'action="/admin/reviewers"' not in page.text
    csv = "\n".join([HEADER, GOOD]).encode()
    assert people["analyst"].post("/admin/reviewers", files={"roster": ("r.csv", csv)}).status_code == 403


# Withdrawal and reassignment ------------------------------------------------------------------


def test_the_coordinator_withdraws_a_case_with_a_reason_kept_in_the_audit_log(app, people) -> None:
    number = cases_of(app, "records_requested")[0]
    page = people["coordinator"].get(f"/cases/{number}")
    assert f'action="/cases/{number}/withdraw"' in page.text
    empty = people["coordinator"].post(f"/cases/{number}/withdraw", {"reason": "  "})
    assert empty.status_code == 422 and "say why" in empty.text
    done = people["coordinator"].post(
        f"/cases/{number}/withdraw", {"reason": "Treatment authorized by the carrier"}
    )
    assert done.status_code == 200 and "withdrawn" in done.text
    assert [r.after for r in audit(app, "withdraw")] == [{"reason": "Treatment authorized by the carrier"}]
    assert f'action="/cases/{number}/withdraw"' not in done.text  # closed: nothing left to withdraw


def test_a_reviewer_and_an_analyst_may_not_withdraw_or_reassign(app, people) -> None:
    number = cases_of(app, "assigned", "LAC-01")[0]
    for name in ("lac-01", "analyst"):
        assert f"/cases/{number}/withdraw" not in people[name].get(f"/cases/{number}").text
        assert people[name].post(f"/cases/{number}/withdraw", {"reason": "x"}).status_code in {403, 404}
        assert people[name].post(f"/cases/{number}/reassign", {}).status_code == 403


def test_the_coordinator_reassigns_to_a_chosen_qualified_reviewer(app, people) -> None:
    number = cases_of(app, "assigned", "LAC-01")[0]
    assert '<option value="LAC-02">' not in people["coordinator"].get(f"/cases/{number}").text  # conflicted
    with app.state.store.transaction() as s:
        s.scalar(select(ReviewerRow).where(ReviewerRow.code == "LAC-02")).affiliations = []
    page = people["coordinator"].get(f"/cases/{number}")
    options = re.findall(
        r'<option value="([A-Z]+-\d+)">', page.text.split('id="reviewer"')[1].split("</select>")[0]
    )
    assert options == ["LAC-02"]  # the one other acupuncturist; the current one is not offered
    done = people["coordinator"].post(f"/cases/{number}/reassign", {"reviewer": "LAC-02"})
    assert done.status_code == 200 and "Reassigned to LAC-02" in done.text
    assert "Assigned to LAC-02" in done.text
    assert [r.before["reviewer"] for r in audit(app, "reassign")] == ["LAC-01"]
    assert people["lac-01"].get(f"/cases/{number}").status_code == 404


def test_reassigning_to_an_unqualified_reviewer_is_a_warning_with_the_reason(app, people) -> None:
    number = cases_of(app, "assigned", "LAC-01")[0]
    done = people["coordinator"].post(f"/cases/{number}/reassign", {"reviewer": "ORTH-01"})
    assert (
        'class="flash warning"' in done.text
        and "Not reassigned" in done.text
        and "not qualified" in done.text
    )
    best = people["coordinator"].post(f"/cases/{number}/reassign", {"reviewer": ""})
    assert "Not reassigned" in best.text and "conflict of interest" in best.text
    assert "Assigned to LAC-01" in best.text and not audit(app, "reassign")


# The ineligibility notice ---------------------------------------------------------------------


def test_an_ineligible_case_gives_its_reason_and_notice_and_no_due_date_suggestion_or_upload(
    app, people
) -> None:
    number = cases_of(app, "ineligible")[0]
    page = people["coordinator"].get(f"/cases/{number}").text
    assert "Not eligible for Independent Medical Review" in page
    assert f'href="/cases/{number}/notice"' in page
    assert "<dt>Due</dt>" not in page and "p(overturn)" not in page and 'name="file"' not in page
    notice = people["coordinator"].get(f"/cases/{number}/notice")
    assert notice.status_code == 200 and number in notice.text
    assert people["analyst"].get(f"/cases/{number}/notice").status_code == 403
    open_case = cases_of(app, "records_requested")[0]
    assert people["coordinator"].get(f"/cases/{open_case}/notice").status_code == 422


# A decision that lost a race ------------------------------------------------------------------


def test_a_decision_someone_made_first_keeps_the_typed_rationale_and_a_way_back(app, people) -> None:
    number = cases_of(app, "assigned", "LAC-01")[0]
    form = {
        "decision": "Upheld",
        "guideline": "Decision based on MTUS Acupuncture Medical Treatment Guidelines.",
        "rationale": "The first <b>rationale</b>",
        "expected_version": "0",
    }
    assert people["lac-01"].post(f"/cases/{number}/items/1/decide", form).status_code == 200
    late = people["lac-01"].post(
        f"/cases/{number}/items/1/decide",
        {**form, "decision": "Overturned", "rationale": "My long typed reason"},
    )
    assert late.status_code == 409
    assert "My long typed reason" in late.text and "The first &lt;b&gt;rationale&lt;/b&gt;" in late.text
    assert f'href="/cases/{number}#item-1"' in late.text and "pass its version" not in late.text
    version = re.search(r'name="expected_version" value="(\d+)"', late.text).group(1)
    assert version == "1"


# Intake and assignment ------------------------------------------------------------------------


def test_intake_lists_every_error_by_its_label(people) -> None:
    page = people["coordinator"].post(
        "/intake",
        {
            "application_received": "yesterday",
            "ur_decision_date": "13/45/2026",
            "item_1": "Acupuncture",
            "clinical_summary": "x",
            "party_requesting_provider_specialty": "Neurology",
        },
    )
    assert page.status_code == 422
    assert "Application received:" in page.text and "UR decision date:" in page.text
    assert "Requesting provider: give the name" in page.text
    assert "ur_decision_date" not in page.text.split('role="alert"')[1].split("</div>")[0]
    assert "Application received: is not a date: choose one from the calendar" in page.text  # not pydantic's
    assert "YYYY-MM-DD" not in page.text  # the date picker shows the browser's own format
    assert "Input should be" not in page.text


def test_intake_offers_the_known_specialties_as_a_select(people) -> None:
    page = people["coordinator"].get("/intake").text
    picker = page.split('id="party_requesting_provider_specialty"')[1].split("</select>")[0]
    assert "<option>Physical Medicine &amp; Rehabilitation</option>" in picker
    assert people["lac-01"].get("/intake").status_code == 403


def test_a_specialty_matches_whatever_its_case_and_and_or_ampersand() -> None:
    reviewer = assignment.Candidate(
        code="PMR",
        name="Dr. P",
        licenses=(License(state="CA", kind="MD"),),
        specialties=("Physical Medicine & Rehabilitation",),
        active_practice_since=dt.date(2000, 1, 1),
        weekly_clinical_hours=40,
        affiliations=(),
        capacity=3,
    )
    need = assignment.Need("CM1", TODAY, ("physical_therapy",), "physical medicine AND rehabilitation", ())
    assert assignment.exclusions(reviewer, need, TODAY) == []
    assert assignment.specialty_key("Physical Medicine & Rehabilitation") == assignment.specialty_key(
        "physical  medicine and rehabilitation"
    )


def test_a_case_nobody_can_take_is_a_warning_with_the_reason(app, people) -> None:
    with app.state.store.transaction() as s:
        for row in s.scalars(select(ReviewerRow)):
            row.capacity = 0
    number = cases_of(app, "records_requested")[0]
    page = people["coordinator"].post("/cases/assign", {"case_number": number})
    assert 'class="flash warning"' in page.text and f"Not assigned: {number}" in page.text
    assert "at capacity" in page.text and "nobody qualified" not in page.text


def test_the_guideline_picker_lists_each_family_and_citation_once(app, people) -> None:
    number = cases_of(app, "assigned", "LAC-01")[0]
    page = people["lac-01"].get(f"/cases/{number}").text
    picker = page.split('id="pick-1"')[1].split("</select>")[0]
    choices = re.findall(r"<option>([^<]+)</option>", picker)
    keys = [" ".join(re.findall(r"[a-z0-9]+", c.lower())) for c in choices]
    # One per rule family, plus the governing guideline's citation and the UR's: no near-duplicates.
    families = {r.family for r in load_rules().rules}
    assert len(keys) == len(set(keys)) and len(choices) <= len(families) + 2
