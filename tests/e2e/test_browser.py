"""A case from intake to a downloaded PDF letter in headless Chromium: the coordinator takes it
in and assigns it, the reviewer decides it on the workbench, the coordinator issues the letter.
Every step is saved as a screenshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

TODAY = dt.date.today()
SUMMARY = (
    "The injured worker is a 52-year-old warehouse lead with right wrist pain after a fall from a "
    "ladder. Care has included a splint, anti-inflammatory medication and a home exercise program. "
    "The treating physician asked for acupuncture, 2 x week for 3 weeks; utilization review denied it."
)


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_intake_to_downloaded_pdf_letter(
    browser: Browser, base_url: str, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # assigning and issuing ask first: yes

    # The coordinator takes the case in, with a document, and assigns it.
    page.goto(f"{base_url}/login")
    shot(page, artifacts, "01-sign-in")
    sign_in(page, base_url, "coordinator")
    expect(page.get_by_role("heading", name="Coordinator dashboard")).to_be_visible()
    shot(page, artifacts, "02-coordinator-dashboard")
    page.get_by_role("link", name="New case").click()
    page.get_by_label("Application received").fill((TODAY - dt.timedelta(days=1)).isoformat())
    page.get_by_label("UR decision date").fill((TODAY - dt.timedelta(days=10)).isoformat())
    page.get_by_label("UR decision served").fill((TODAY - dt.timedelta(days=9)).isoformat())
    page.get_by_label("Date of injury").fill((TODAY - dt.timedelta(days=200)).isoformat())
    page.get_by_label("Age").fill("52")
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Employer", exact=True).fill("Bayside Logistics")
    page.get_by_label("Requesting provider", exact=True).fill("Dr. Helen Park")
    page.get_by_label("Requesting provider's specialty").select_option("Hand Surgery")
    page.get_by_label("Disputed item 1", exact=True).fill("Acupuncture 2 x week for 3 weeks, right wrist")
    page.get_by_label("Clinical summary").fill(SUMMARY)
    page.get_by_label("Medical records").set_input_files(
        files=[{"name": "progress-note.txt", "mimeType": "text/plain", "buffer": b"Right wrist pain 7/10."}]
    )
    shot(page, artifacts, "03-intake-form")
    page.get_by_role("button", name="Take the case in").click()
    expect(page.get_by_role("status")).to_contain_text("taken in: records requested")
    number = page.get_by_role("heading", level=1).inner_text().split()[1]
    expect(page.get_by_role("link", name="progress-note.txt")).to_be_visible()
    page.get_by_role("button", name="Assign a reviewer").click()
    assigned = page.locator("#assigned")
    expect(assigned).to_contain_text("Assigned to LAC-")
    expect(page.get_by_text("Why this reviewer")).to_be_visible()
    reviewer = assigned.inner_text().split()[2]
    shot(page, artifacts, "04-case-assigned-with-explanation")
    sign_out(page)

    # The reviewer finds it on their worklist and decides it on the workbench.
    sign_in(page, base_url, reviewer.lower())
    expect(page.get_by_role("heading", name="My worklist")).to_be_visible()
    expect(page.get_by_role("link", name=number)).to_be_visible()
    shot(page, artifacts, "05-reviewer-worklist")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name="Parsed request")).to_be_visible()
    expect(page.get_by_role("heading", name="Governing guideline")).to_be_visible()
    shot(page, artifacts, "06-case-workbench")
    page.get_by_label("Overturned (medically necessary)").check()
    (basis,) = page.get_by_label("Guideline basis", exact=True).select_option(index=1)  # the governing rule
    assert basis.startswith("Decision based on MTUS")
    expect(page.get_by_label("Guideline basis as it will read in the letter")).to_have_value(basis)
    page.get_by_label("Rationale").fill(
        "The guidelines support an initial acupuncture trial of 3 to 6 treatments. This worker has not "
        "had acupuncture, and six visits match the recommended trial. The request is medically necessary."
    )
    page.get_by_role("button", name="Save the decision").click()
    expect(page.get_by_role("status")).to_contain_text("the case is decided")
    shot(page, artifacts, "07-decision-saved")
    page.get_by_role("link", name="Letter preview").click()
    expect(page.frame_locator("iframe.letter").get_by_text("Overturned").first).to_be_visible()
    shot(page, artifacts, "08-letter-preview")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"{base_url}/cases/{number}")
    shot(page, artifacts, "09-workbench-on-a-tablet")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_out(page)

    # The coordinator issues the letter and downloads the PDF.
    sign_in(page, base_url, "coordinator")
    page.goto(f"{base_url}/cases/{number}")
    page.get_by_role("button", name="Issue the Final Determination letter").click()
    expect(page.get_by_role("heading", name="Final Determination letter")).to_be_visible()
    shot(page, artifacts, "10-letter-issued")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF").click()
    pdf = artifacts / f"{number}.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    page.goto(f"{base_url}/cases/{number}/audit")
    expect(page.get_by_role("cell", name="Issued", exact=True)).to_be_visible()  # the action in words
    shot(page, artifacts, "11-audit-log")
    context.close()


def test_an_analyst_sees_the_dashboard_without_claimant_details(
    browser: Browser, base_url: str, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(page, base_url, "analyst")
    number = page.locator("tbody th a").first.inner_text()
    page.get_by_role("link", name=number).click()
    expect(page.get_by_text("Claimant details are not shown to analysts.")).to_be_visible()
    shot(page, artifacts, "12-analyst-case")
    page.close()
