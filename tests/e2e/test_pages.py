"""Every page of the workbench in headless Chromium, as each role that may see it, and each role
that may not refused: a 403 page with the menu, a 404 for a reviewer's hidden case, or sign-in
for a visitor signed out. Each visit checks the status, the title and heading, the menu, that
the console stayed free of errors (a script the Content-Security-Policy blocked included), and
saves a full-page screenshot under ``$OPENIMR_E2E_SHOTS``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response, expect

TODAY = dt.date.today()
SIGNED_OUT = "signed-out"
_LOAD_FAILED = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Visitor:
    """One role's browser tab, signed in (or not), that checks each page it lands on."""

    role: str
    context: BrowserContext
    base: str
    shots: Path
    page: Page = field(init=False)
    problems: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # what each confirmation asked (each accepted)
    status: int = 200  # the status the page shown now was expected to have

    def __post_init__(self) -> None:
        self.page = self.watch(self.context.new_page())

    def watch(self, page: Page) -> Page:
        """*page* with its console errors and uncaught exceptions collected into :attr:`problems`."""
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: (self.asked.append(dialog.message), dialog.accept()))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        failed = _LOAD_FAILED.search(message.text)
        if failed and int(failed.group(1)) == self.status and self.status >= 400:
            return  # Chromium's own note that the refused page came with its (expected) status
        self.problems.append(f"console: {message.text} at {message.location.get('url')}")

    def open(self, path: str, status: int = 200) -> Response:
        """Go to *path*; its final response (after redirects) must have *status*."""
        self.problems.clear()
        self.status = status
        response = self.page.goto(self.base + path)
        assert response is not None
        assert response.status == status, f"{self.role} {path}: {response.status}, not {status}"
        return response

    def check(self, name: str, title: str, heading: str, menu: bool = True, page: Page | None = None) -> None:
        """The page shown has *title* and an h1 with *heading*, the menu (or none), no console error;
        saved as ``<role>--<name>.png``."""
        page = page or self.page
        page.wait_for_load_state("load")
        expect(page).to_have_title(f"{title} · OpenIMR")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        nav = page.get_by_role("navigation", name="Main")
        if menu:
            expect(nav).to_be_visible()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        else:
            expect(nav).to_have_count(0)
        page.screenshot(path=str(self.shots / f"{self.role}--{name}.png"), full_page=True)
        assert not self.problems, f"{self.role} {page.url}: {self.problems}"

    def submit(self, button: str, status: int = 200) -> Response:
        """Click the button named *button* and wait for the page it leads to (of *status*)."""
        self.problems.clear()
        self.status = status
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button, exact=True).click()
        response = navigation.value
        assert response is not None and response.status == status, f"{button}: {response and response.status}"
        return response


@dataclass(frozen=True)
class DemoCases:
    """Demo cases in each state the pages show, found through the API as the coordinator."""

    open: str  # awaiting a reviewer
    assigned: str  # LAC-01's, to look at
    to_decide: str  # LAC-01's, decided in the browser
    decided: str  # PMR-01's, decided through the API here
    to_reassign: str  # DC-01's
    to_withdraw: str  # awaiting a reviewer
    issued: str  # LAC-01's, letter issued
    ineligible: str
    letter: str  # a past decision letter that /search?q=acupuncture finds

    def fill(self, text: str) -> str:
        return text.format(**self.__dict__)


def _token(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/tokens", json={"username": username, "password": "demo"})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _application(n: int) -> dict:
    """An invented case for the API, one of a few that fill the dashboard's second page."""
    return {
        "application_received": str(TODAY - dt.timedelta(days=1)),
        "ur_decision_date": str(TODAY - dt.timedelta(days=12)),
        "ur_decision_served": str(TODAY - dt.timedelta(days=11)),
        "date_of_injury": str(TODAY - dt.timedelta(days=400)),
        "claimant": {"age": 30 + n, "sex": "female"},
        "parties": [{"role": "employer", "name": f"Harbor Freightways {n}"}],
        "clinical_summary": f"Low back strain from lifting crates (worker {n}); therapy was requested.",
        "disputed_items": [{"item": f"Physical therapy 2 x week for {n + 2} weeks, lumbar spine"}],
    }


@pytest.fixture(scope="module")
def demo(base_url: str) -> DemoCases:
    """The demo cases, with one of PMR-01's decided and enough new cases for a second dashboard page."""
    with httpx.Client(base_url=base_url) as client:
        staff = _token(client, "coordinator")
        listed = client.get("/api/cases", params={"limit": 200}, headers=staff).json()["items"]
        for n in range(max(0, 26 - len(listed))):
            client.post("/api/cases", json=_application(n), headers=staff).raise_for_status()

        def numbers(status: str, reviewer: str | None = None) -> list[str]:
            return sorted(
                c["case_number"]
                for c in listed
                if c["status"] == status and (reviewer is None or c["reviewer"] == reviewer)
            )

        waiting, lac, pmr, dc = (
            numbers("records_requested"),
            numbers("assigned", "LAC-01"),
            numbers("assigned", "PMR-01"),
            numbers("assigned", "DC-01"),
        )
        assert len(waiting) >= 2 and len(lac) >= 2 and pmr and dc, f"the demo changed: {listed}"
        reviewer = _token(client, "pmr-01")
        (item,) = client.get(f"/api/cases/{pmr[0]}", headers=reviewer).json()["items"]
        decision = {
            "decision": "Upheld",
            "guideline": "Decision based on MTUS Chronic Pain Medical Treatment Guidelines.",
            "rationale": "No functional gain came from the earlier course, so more is not supported.",
            "expected_version": item["version"],
        }
        client.put(
            f"/api/cases/{pmr[0]}/items/1/decision", json=decision, headers=reviewer
        ).raise_for_status()
        hits = client.get("/api/search", params={"q": "acupuncture"}, headers=staff).json()
        assert hits, "the demo corpus has no acupuncture letter"
    return DemoCases(
        open=waiting[0],
        assigned=lac[0],
        to_decide=lac[1],
        decided=pmr[0],
        to_reassign=dc[0],
        to_withdraw=waiting[1],
        issued=numbers("letter_issued", "LAC-01")[0],
        ineligible=numbers("ineligible")[0],
        letter=hits[0]["letter"],
    )


@pytest.fixture(scope="module")
def visitors(browser: Browser, base_url: str, shots: Path) -> Iterator[dict[str, Visitor]]:
    """A tab per role, each signed in once (``signed-out`` never is)."""
    made: dict[str, Visitor] = {}
    for role in ("admin", "coordinator", "analyst", "lac-01", "pmr-01", SIGNED_OUT):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        visitor = made[role] = Visitor(role, context, base_url, shots)
        if role != SIGNED_OUT:
            visitor.open("/login")
            visitor.page.get_by_label("Username").fill(role)
            visitor.page.get_by_label("Password").fill("demo")
            visitor.submit("Sign in")
    yield made
    for visitor in made.values():
        visitor.context.close()


# The page × role matrix ----------------------------------------------------------------------

STAFF = ("admin", "coordinator", "analyst")
DASHBOARDS = {
    "admin": ("Administrator dashboard",) * 2,
    "coordinator": ("Coordinator dashboard",) * 2,
    "analyst": ("Analyst overview",) * 2,
}
REFUSED = ("Error 403", "Not allowed")
HIDDEN = ("Error 404", "Not found")


def seen(title: str, heading: str, *roles: str) -> dict[str, tuple[str, str] | int]:
    return {role: (title, heading) for role in roles}


def refused(*roles: str) -> dict[str, tuple[str, str] | int]:
    return dict.fromkeys(roles, 403)


def hidden(*roles: str) -> dict[str, tuple[str, str] | int]:
    return dict.fromkeys(roles, 404)


# path (with the demo's case numbers to fill in) → what each role gets: (title, heading) shown with
# 200, or 403 / 404 refused; every page not listed for "signed-out" sends it to sign in.
MATRIX: dict[str, dict[str, tuple[str, str] | int]] = {
    "/login": seen("Sign in", "Sign in", SIGNED_OUT),
    "/": {**DASHBOARDS, **seen("My worklist", "My worklist", "lac-01")},
    "/dashboard": {**DASHBOARDS, **seen("My worklist", "My worklist", "lac-01")},
    "/dashboard?status=assigned&sort=number&order=desc&page=1": DASHBOARDS,
    "/worklist": {**seen("Worklist", "Worklist", *STAFF), **seen("My worklist", "My worklist", "lac-01")},
    "/worklist?show=closed": {
        **seen("Worklist", "Worklist", *STAFF),
        **seen("My worklist", "My worklist", "lac-01"),
    },
    "/intake": {**seen("New case", "New IMR case", "admin", "coordinator"), **refused("analyst", "lac-01")},
    "/cases/{open}": {**seen("Case {open}", "Case {open}", *STAFF), **hidden("lac-01")},
    "/cases/{assigned}": {**seen("Case {assigned}", "Case {assigned}", *STAFF, "lac-01"), **hidden("pmr-01")},
    "/cases/{decided}": {**seen("Case {decided}", "Case {decided}", *STAFF, "pmr-01"), **hidden("lac-01")},
    "/cases/{issued}": {**seen("Case {issued}", "Case {issued}", *STAFF, "lac-01"), **hidden("pmr-01")},
    "/cases/{ineligible}": {**seen("Case {ineligible}", "Case {ineligible}", *STAFF), **hidden("lac-01")},
    "/cases/{decided}/letter": {
        **seen("Letter {decided}", "Letter preview (draft)", "admin", "coordinator", "pmr-01"),
        **refused("analyst"),
        **hidden("lac-01"),
    },
    "/cases/{issued}/letter": {
        **seen("Letter {issued}", "Final Determination letter", "admin", "coordinator", "lac-01"),
        **refused("analyst"),
        **hidden("pmr-01"),
    },
    "/cases/{issued}/audit": {
        **seen("Audit {issued}", "Audit log of {issued}", "admin", "coordinator"),
        **refused("analyst", "lac-01"),
    },
    "/audit": {**seen("Audit log", "Audit log", "admin", "coordinator"), **refused("analyst", "lac-01")},
    "/cases/{ineligible}/notice": {
        **seen(
            "Ineligibility notice {ineligible}",
            "Ineligibility notice, case {ineligible}",
            "admin",
            "coordinator",
        ),
        **refused("analyst"),
        **hidden("lac-01"),
    },
    "/corpus/stats": seen("Decision statistics", "Decision statistics", *STAFF, "lac-01"),
    "/search?q=acupuncture": seen("Search past decisions", "Search past decisions", *STAFF, "lac-01"),
    "/corpus/letters/{letter}": seen("Past decision {letter}", "Past decision", *STAFF, "lac-01"),
    "/admin/reviewers": {**seen("Reviewers", "Expert reviewers", *STAFF), **refused("lac-01")},
    "/admin/users": {**seen("Accounts", "Accounts", "admin"), **refused("coordinator", "analyst", "lac-01")},
    "/no-such-page": {**hidden(*STAFF, "lac-01", SIGNED_OUT)},
}
VISITS = [
    pytest.param(path, role, outcome, id=f"{role}:{path}")
    for path, roles in MATRIX.items()
    for role, outcome in {**({} if path == "/login" else {SIGNED_OUT: 303}), **roles}.items()
]


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"


@pytest.mark.parametrize(("template", "role", "outcome"), VISITS)
def test_page_as_role(
    visitors: dict[str, Visitor], demo: DemoCases, template: str, role: str, outcome: tuple[str, str] | int
) -> None:
    """The page as *role*: shown with its title and heading, refused (403 or 404), or sign-in first."""
    visitor, path = visitors[role], demo.fill(template)
    menu = role != SIGNED_OUT
    if outcome == 303:
        response = visitor.open(path)
        assert response.request.redirected_from is not None
        assert visitor.page.url == f"{visitor.base}/login?next={quote(urlsplit(path).path)}"
        visitor.check(_slug(template), "Sign in", "Sign in", menu=False)
    elif isinstance(outcome, int):
        visitor.open(path, outcome)
        title, heading = REFUSED if outcome == 403 else HIDDEN
        expect(visitor.page.get_by_role("alert")).not_to_be_empty()
        visitor.check(_slug(template), title, heading, menu)
    else:
        visitor.open(path)
        title, heading = outcome
        visitor.check(_slug(template), demo.fill(title), demo.fill(heading), menu)


# What the pages do ---------------------------------------------------------------------------


def test_dashboard_filter_sort_and_second_page(visitors: dict[str, Visitor]) -> None:
    """The filter form narrows and orders the list; the pager reaches page 2 (over 25 cases)."""
    for role in ("coordinator", "analyst"):
        visitor = visitors[role]
        page = visitor.page
        visitor.open("/dashboard")
        form = page.get_by_role("search", name="Search and filter cases")
        form.get_by_label("Status").select_option("assigned")
        form.get_by_label("Sort by").select_option("number")
        form.get_by_label("Order").select_option("desc")
        visitor.submit("Apply")
        assert "status=assigned" in page.url and "sort=number" in page.url and "order=desc" in page.url
        badges = page.locator("tbody .badge").all_inner_texts()
        assert badges and set(badges) == {"Assigned"}
        shown = page.locator("tbody th a").all_inner_texts()
        assert shown == sorted(shown, reverse=True)
        visitor.check("dashboard-filtered", *DASHBOARDS[role])
        page.get_by_role("link", name="Clear").click()
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next →").click()
        expect(page.get_by_role("navigation", name="Pages")).to_contain_text("Page 2 of")
        assert page.locator("tbody th a").count() > 0
        visitor.check("dashboard-page-2", *DASHBOARDS[role])


def test_worklist_tabs(visitors: dict[str, Visitor], demo: DemoCases) -> None:
    """A reviewer's tabs: to review holds their open case, closed their issued one, all both."""
    visitor = visitors["lac-01"]
    page = visitor.page
    visitor.open("/worklist")
    tabs = page.get_by_role("navigation", name="Which cases")
    for tab, present, absent in (
        ("Closed", demo.issued, demo.assigned),
        ("All", demo.assigned, None),
        ("To review", demo.assigned, demo.issued),
    ):
        tabs.get_by_role("link", name=re.compile(f"^{tab} ")).click()
        expect(tabs.get_by_role("link", name=re.compile(f"^{tab} "))).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.get_by_role("link", name=present, exact=True)).to_be_visible()
        if absent:
            expect(page.get_by_role("link", name=absent, exact=True)).to_have_count(0)
        visitor.check(f"worklist-{_slug(tab)}", "My worklist", "My worklist")


def _fill_intake(page: Page) -> None:
    page.get_by_label("Application received").fill(str(TODAY - dt.timedelta(days=2)))
    page.get_by_label("UR decision date").fill(str(TODAY - dt.timedelta(days=8)))
    page.get_by_label("UR decision served").fill(str(TODAY - dt.timedelta(days=7)))
    page.get_by_label("Date of injury").fill(str(TODAY - dt.timedelta(days=90)))
    page.get_by_label("Age").fill("47")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Employer", exact=True).fill("Orchard Row Bakery")
    page.get_by_label("Disputed item 1", exact=True).fill(
        "Chiropractic manipulation 6 visits, cervical spine"
    )
    page.get_by_label("Clinical summary").fill("Neck pain after a rear-end collision at work; no prior care.")


def test_intake_takes_a_case_in(visitors: dict[str, Visitor]) -> None:
    visitor = visitors["coordinator"]
    visitor.open("/intake")
    _fill_intake(visitor.page)
    visitor.check("intake-form", "New case", "New IMR case")
    visitor.submit("Take the case in")
    expect(visitor.page.get_by_role("status")).to_contain_text("taken in: records requested")
    number = visitor.page.get_by_role("heading", level=1).inner_text().split()[1]
    visitor.check("intake-submitted", f"Case {number}", f"Case {number}")


def test_intake_refusal_lists_every_error_by_its_label(visitors: dict[str, Visitor]) -> None:
    """A submission the browser would stop (its checks turned off) is refused with one line per
    problem, each naming the field as the form labels it, and the form keeps what was typed."""
    visitor = visitors["coordinator"]
    page = visitor.page
    visitor.open("/intake")
    page.locator("form.grid").evaluate("form => { form.noValidate = true; }")
    page.get_by_label("Application received").fill("")
    page.get_by_label("UR decision date").fill(str(TODAY - dt.timedelta(days=3)))
    page.get_by_label("Requesting provider's specialty").select_option("Hand Surgery")
    page.get_by_label("Clinical summary").fill("Typed before the refusal.")
    labels = [t.strip() for t in page.locator("form.grid label").all_inner_texts()]
    visitor.submit("Take the case in", 422)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The case was not taken in")
    lines = alert.locator("li").all_inner_texts()
    for provoked in ("Application received", "Disputed item 1", "Requesting provider"):
        assert any(line.startswith(f"{provoked}: ") for line in lines), f"no error for {provoked}: {lines}"
    fields = [line.split(": ", 1)[0].split(", ") for line in lines]  # e.g. "Disputed items, line 2"
    unlabelled = [f for f in fields if not any(label.startswith(part) for part in f for label in labels)]
    assert len(lines) >= 3 and not unlabelled, lines
    expect(page.get_by_label("Clinical summary")).to_have_value("Typed before the refusal.")
    visitor.check("intake-errors", "New case", "New IMR case")


def test_a_decision_then_a_stale_one_shows_the_conflict(
    visitors: dict[str, Visitor], demo: DemoCases
) -> None:
    """The assigned reviewer decides an item; a second tab still on the old version is not saved
    over it but shown the conflict, with its rationale kept to save again."""
    visitor = visitors["lac-01"]
    page, stale = visitor.page, visitor.watch(visitor.context.new_page())
    visitor.open(f"/cases/{demo.to_decide}")
    stale.goto(f"{visitor.base}/cases/{demo.to_decide}")
    visitor.check("case-to-decide", f"Case {demo.to_decide}", f"Case {demo.to_decide}")
    page.get_by_label("Upheld (not medically necessary)").check()
    page.get_by_label("Guideline basis", exact=True).select_option(index=1)
    page.get_by_label("Rationale").fill("Six sessions were given already with no change in function or pain.")
    visitor.submit("Save the decision")
    expect(page.get_by_role("status")).to_contain_text("the case is decided")
    visitor.check("case-decided", f"Case {demo.to_decide}", "Decided")

    mine = "A second look: the record supports a short further trial of three sessions."
    stale.get_by_label("Overturned (medically necessary)").check()
    stale.get_by_label("Rationale").fill(mine)
    visitor.problems.clear()
    visitor.status = 409
    with stale.expect_navigation() as navigation:
        stale.get_by_role("button", name="Save the decision").click()
    assert navigation.value is not None and navigation.value.status == 409
    expect(stale.get_by_label("Your rationale")).to_have_value(mine)
    expect(stale.get_by_label("Overturned (medically necessary)")).to_be_checked()
    expect(stale.get_by_role("alert")).to_contain_text("Your decision was not saved")
    visitor.check("decision-conflict", "Item 1 was decided meanwhile", "decided by someone else", page=stale)
    stale.close()


def test_the_draft_letter_is_marked_draft(visitors: dict[str, Visitor], demo: DemoCases) -> None:
    visitor = visitors["coordinator"]
    visitor.open(f"/cases/{demo.decided}")
    visitor.page.get_by_role("link", name="Letter preview").click()
    frame = visitor.page.locator(".letter-frame.draft")
    mark = frame.evaluate("el => getComputedStyle(el, '::after').content")
    assert mark == '"DRAFT"'
    expect(visitor.page.frame_locator("iframe.letter").get_by_text("Upheld").first).to_be_visible()
    visitor.check("letter-draft", f"Letter {demo.decided}", "Letter preview (draft)")


def test_the_issued_letter_downloads_as_pdf(
    visitors: dict[str, Visitor], demo: DemoCases, tmp_path: Path
) -> None:
    for role in ("coordinator", "lac-01"):
        visitor = visitors[role]
        visitor.open(f"/cases/{demo.issued}/letter")
        with visitor.page.expect_download() as download:
            visitor.page.get_by_role("link", name="Download the PDF").click()
        saved = tmp_path / f"{role}.pdf"
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF")
        assert download.value.suggested_filename == f"{demo.issued}.pdf"
    refused_pdf = visitors["analyst"].context.request.get(
        f"{visitors['analyst'].base}/api/cases/{demo.issued}/letter.pdf"
    )
    assert refused_pdf.status == 403 and refused_pdf.json()["error"] == "forbidden"


def test_audit_filter_and_csv(visitors: dict[str, Visitor], demo: DemoCases, tmp_path: Path) -> None:
    visitor = visitors["coordinator"]
    page = visitor.page
    visitor.open("/audit")
    form = page.get_by_role("form", name="Filter the audit log")
    form.get_by_label("User").fill("pmr-01")
    form.get_by_label("Action").fill("decide")
    visitor.submit("Apply")
    actors = page.locator("td.actor").all_inner_texts()
    assert actors and set(actors) == {"pmr-01"}
    expect(page.get_by_role("link", name=demo.decided)).to_be_visible()
    visitor.check("audit-filtered", "Audit log", "Audit log")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert rows and {r["actor"] for r in rows} == {"pmr-01"} and {r["action"] for r in rows} == {"decide"}
    analyst = visitors["analyst"]
    assert analyst.context.request.get(f"{analyst.base}/audit.csv").status == 403


def test_the_notice_of_an_ineligible_case(visitors: dict[str, Visitor], demo: DemoCases) -> None:
    visitor = visitors["coordinator"]
    visitor.open(f"/cases/{demo.ineligible}")
    visitor.page.get_by_role("link", name="Ineligibility notice", exact=True).click()
    letter = visitor.page.frame_locator("iframe#letter")  # the notice as the letter the parties get
    expect(letter.locator("ol.reasons li").first).not_to_be_empty()
    visitor.check("notice", f"Ineligibility notice {demo.ineligible}", "Ineligibility notice")


def test_withdraw_a_case(visitors: dict[str, Visitor], demo: DemoCases) -> None:
    visitor = visitors["coordinator"]
    page = visitor.page
    visitor.open(f"/cases/{demo.to_withdraw}")
    page.get_by_text("Withdraw the case").click()
    page.get_by_label("Why").fill("The claims administrator authorized the treatment.")
    visitor.check("case-withdraw-form", f"Case {demo.to_withdraw}", f"Case {demo.to_withdraw}")
    visitor.submit(f"Withdraw case {demo.to_withdraw}")
    assert visitor.asked[-1].startswith(f"Withdraw case {demo.to_withdraw}?")
    expect(page.get_by_role("status")).to_contain_text(f"Case {demo.to_withdraw} withdrawn.")
    visitor.check("case-withdrawn", f"Case {demo.to_withdraw}", "Withdrawn")
    expect(page.locator("#withdrawn-h + p")).to_contain_text("Withdrawn by coordinator on ")


ROSTER = (
    "code,name,licenses,specialties,affiliations,active_practice_since,weekly_clinical_hours,capacity\n"
    'DC-09,"Robin Alvarez, D.C.",California:DC:DC-90009:active,Chiropractor,,2008-04-01,30,5\n'
)


def test_import_a_roster_then_reassign_to_the_new_reviewer(
    visitors: dict[str, Visitor], demo: DemoCases
) -> None:
    visitor = visitors["coordinator"]
    page = visitor.page
    visitor.open("/admin/reviewers")
    page.get_by_label("Import a roster (.csv or .json)").set_input_files(
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER.encode()}]
    )
    visitor.submit("Import")
    expect(page.get_by_role("status")).to_contain_text("Roster imported")
    expect(page.get_by_role("cell", name="Robin Alvarez, D.C.")).to_be_visible()
    visitor.check("reviewers-imported", "Reviewers", "Expert reviewers")

    visitor.open(f"/cases/{demo.to_reassign}")
    page.get_by_label("Reassign to").select_option("DC-09")
    visitor.check("case-reassign-form", f"Case {demo.to_reassign}", f"Case {demo.to_reassign}")
    visitor.submit("Reassign")
    expect(page.get_by_role("status")).to_contain_text("Reassigned to DC-09")
    expect(page.locator("#assigned")).to_contain_text("Assigned to DC-09")
    visitor.check("case-reassigned", f"Case {demo.to_reassign}", f"Case {demo.to_reassign}")

    analyst = visitors["analyst"]
    analyst.open("/admin/reviewers")
    expect(analyst.page.get_by_label("Import a roster (.csv or .json)")).to_have_count(0)


def test_statistics_groupings_and_downloads(visitors: dict[str, Visitor], tmp_path: Path) -> None:
    visitor = visitors["coordinator"]
    page = visitor.page
    visitor.open("/corpus/stats")
    tabs = page.get_by_role("navigation", name="Group by")
    labels = tabs.get_by_role("link").all_inner_texts()
    assert len(labels) >= 2
    for label in labels:
        tabs.get_by_role("link", name=label, exact=True).click()
        expect(tabs.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        chart = page.locator("figure img")
        expect(chart).to_be_visible()
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
        expect(page.locator("table caption")).to_contain_text(label.lower())
        visitor.check(f"stats-{_slug(label)}", "Decision statistics", "Decision statistics")
    for link, start in (("table (CSV)", b"group"), ("chart (PNG)", b"\x89PNG")):
        with page.expect_download() as download:
            page.get_by_role("link", name=link).click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.read_bytes().lower().startswith(start.lower()), saved.read_bytes()[:40]


def test_a_search_hit_opens_its_past_letter(visitors: dict[str, Visitor]) -> None:
    for role in ("analyst", "lac-01"):
        visitor = visitors[role]
        page = visitor.page
        visitor.open("/search")
        page.get_by_label("Words").fill("acupuncture")
        visitor.submit("Search")
        hit = page.locator("tbody a").first
        letter, item = hit.inner_text(), hit.get_attribute("href").rsplit("#", 1)[1]
        hit.click()
        expect(page.locator(f"#{item}")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Past decision")
        assert letter in page.url
        visitor.check("past-letter", f"Past decision {letter}", "Past decision")


def test_accounts_create_and_disable(visitors: dict[str, Visitor], browser: Browser) -> None:
    visitor = visitors["admin"]
    page = visitor.page
    visitor.open("/admin/users")
    page.get_by_label("Username").fill("temp-analyst")
    page.get_by_label("Password (at least 8 characters)", exact=True).fill("a-long-passphrase")
    page.get_by_label("Role").select_option("analyst")
    visitor.submit("Create the account")
    expect(page.get_by_role("status")).to_contain_text("Account temp-analyst created (analyst).")
    visitor.check("users-created", "Accounts", "Accounts")
    visitor.submit("Disable temp-analyst")
    assert visitor.asked[-1].startswith("Disable the account temp-analyst?")
    expect(page.get_by_role("status")).to_contain_text("Account temp-analyst disabled.")
    expect(page.get_by_role("row", name=re.compile("^temp-analyst analyst"))).to_contain_text("disabled")
    visitor.check("users-disabled", "Accounts", "Accounts")

    outsider = browser.new_page()
    outsider.goto(f"{visitor.base}/login")
    outsider.get_by_label("Username").fill("temp-analyst")
    outsider.get_by_label("Password").fill("a-long-passphrase")
    outsider.get_by_role("button", name="Sign in").click()
    expect(outsider.get_by_role("alert")).to_have_text("Wrong username or password.")
    outsider.close()
