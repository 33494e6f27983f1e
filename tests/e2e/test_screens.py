"""Every page at a phone's width (390 px) and a desktop's (1280 px), and in print, in headless
Chromium: no page scrolls sideways, print leaves out the menu, buttons and forms, and a
confirmation dismissed sends nothing. Each page at each width is saved as a full-page screenshot
under ``$OPENIMR_E2E_SHOTS`` (a temporary folder by default, never the repository)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

WIDTHS = (390, 1280)
SLACK = 2  # px: what the workbench check allows (scrollWidth <= 392 at 390)
PAGES = {
    "coordinator": [
        "/dashboard",
        "/worklist",
        "/intake",
        "/audit",
        "/search?q=therapy",
        "/corpus/stats",
        "/corpus/stats?by=drug-class",
        "/guidelines",
        "/guidelines?page=2",
        "/admin/reviewers",
        "/account/password",
        "/cases",  # no such page: the error page, with the menu
        "{open}",
        "{assigned}",
        "{issued}",
        "{issued}/letter",
        "{issued}/audit",
        "{ineligible}",
        "{ineligible}/notice",
    ],
    "admin": ["/admin/users"],
    "analyst": ["/dashboard", "{assigned}"],
    "lac-01": ["/worklist", "/worklist?show=closed"],
}


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture(scope="module")
def tabs(browser: Browser, base_url: str) -> Iterator[dict[str, Page]]:
    """A signed-in tab per role."""
    made: dict[str, Page] = {}
    for role in PAGES:
        made[role] = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        _sign_in(made[role], base_url, role)
    yield made
    for page in made.values():
        page.context.close()


def _first_case(page: Page, base_url: str, status: str) -> str:
    page.goto(f"{base_url}/dashboard?status={status}")
    link = page.locator("table a[href^='/cases/CM']").first
    return link.get_attribute("href") or ""


@pytest.fixture(scope="module")
def cases(tabs: dict[str, Page], base_url: str) -> dict[str, str]:
    """A case page in each state the screens show, found on the coordinator's dashboard."""
    page = tabs["coordinator"]
    found = {
        key: _first_case(page, base_url, status)
        for key, status in (
            ("open", "records_requested"),
            ("assigned", "assigned"),
            ("issued", "letter_issued"),
            ("ineligible", "ineligible"),
        )
    }
    assert all(found.values()), found
    return found


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", list(PAGES))
def test_no_page_scrolls_sideways(
    tabs: dict[str, Page], cases: dict[str, str], base_url: str, shots: Path, role: str, width: int
) -> None:
    page = tabs[role]
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
    wide = []
    for path in (p.format(**cases) for p in PAGES[role]):
        page.goto(base_url + path)
        page.wait_for_load_state("load")
        page.screenshot(path=str(shots / f"{width}--{role}--{_slug(path)}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width + SLACK:
            wide.append(f"{path} is {scroll} px wide")
    assert not wide, f"{role} at {width} px: " + "; ".join(wide)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sign_in_page_fits(browser: Browser, base_url: str, shots: Path, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 844})
    try:
        page.goto(f"{base_url}/login")
        page.screenshot(path=str(shots / f"{width}--signed-out--login.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + SLACK
    finally:
        page.close()


def test_the_menu_wraps_on_a_phone_and_every_link_stays_on_the_dark_header(
    tabs: dict[str, Page], base_url: str
) -> None:
    page = tabs["admin"]  # the longest menu
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base_url}/dashboard")
    header = page.locator("header.top").bounding_box()
    assert header
    links = page.locator("header.top a, header.top button")
    for n in range(links.count()):
        box = links.nth(n).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, links.nth(n).inner_text()
        assert box["y"] + box["height"] <= header["y"] + header["height"], links.nth(n).inner_text()


@pytest.mark.parametrize("path", ["/dashboard", "{assigned}", "/guidelines", "/audit"])
def test_print_leaves_out_the_menu_buttons_and_forms(
    tabs: dict[str, Page], cases: dict[str, str], base_url: str, shots: Path, path: str
) -> None:
    page = tabs["coordinator"]
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base_url + path.format(**cases))
    page.emulate_media(media="print")
    try:
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shown = page.evaluate(
            "[...document.querySelectorAll('button, .button, form, header')]"
            ".filter(e => e.getClientRects().length > 0).map(e => e.outerHTML.slice(0, 80))"
        )
        assert shown == [], f"{path} prints {shown}"
        page.screenshot(path=str(shots / f"print--{_slug(path.format(**cases))}.png"), full_page=True)
    finally:
        page.emulate_media(media="screen")


def test_a_dismissed_confirmation_sends_nothing(
    tabs: dict[str, Page], cases: dict[str, str], base_url: str
) -> None:
    page = tabs["coordinator"]
    page.set_viewport_size({"width": 390, "height": 844})
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    try:
        number = cases["assigned"].rsplit("/", 1)[1]
        page.goto(base_url + cases["assigned"])
        page.get_by_text("Withdraw the case").click()
        page.get_by_label("Why").fill("Dismissed on purpose: nothing may happen.")
        page.get_by_role("button", name=f"Withdraw case {number}").click()
        expect(page.locator("h1 .badge")).to_have_text("Assigned")
        assert asked and asked[-1].startswith(f"Withdraw case {number}?")
        page.reload()
        expect(page.locator("h1 .badge")).to_have_text("Assigned")  # still open after a fresh read

        page.goto(f"{base_url}/dashboard")
        heading = page.locator("#to-assign").inner_text()
        button = page.locator("form[action='/cases/assign'] button")
        button.click()
        assert asked[-1].startswith("Assign ")
        page.goto(f"{base_url}/dashboard")
        expect(page.locator("#to-assign")).to_have_text(heading)  # as many still waiting
    finally:
        page.remove_listener("dialog", dismiss)
