"""The Final Determination letter (a draft until issued, frozen once issued) and the ineligibility
notice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from openimr.core.case import Case
from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.core.process import eligibility, workflow
from openimr.core.process.data import load
from openimr.core.process.roster import License
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services.access import Gate, NotFound, ProcessError, assigned
from openimr.services.options import LetterForm
from openimr.services.organization import Organization
from openimr.services.render import Format, render
from openimr.services.sending import ADDRESSED, Addressee, Sending, render_notice, render_sent
from openimr.store.schema import (
    CaseRow,
    IssuedLetterRow,
)


def _good_licenses(case: CaseRow, on: dt.date) -> list[License]:
    """The assigned reviewer's licences in good standing on *on* (the roster's)."""
    good_standing = load("specialties")["qualification"]["good_standing"]
    licenses = (License(**x) for x in assigned(case).reviewer.licenses)
    return [lic for lic in licenses if lic.in_good_standing(on, good_standing)]


def addressed(case: CaseRow) -> Sending:
    """Who a letter of *case* goes to and what names the claim, from the case as submitted."""
    submitted = Case.model_validate(case.submitted or {})
    by_role = {p.role: p for p in reversed(submitted.parties)}  # the first party of each role
    worker = by_role.get("employee")
    name = submitted.claimant.name or (worker.name if worker else None)
    addressees = [
        Addressee(
            role=ADDRESSED[role],
            name=name if role == "employee" and name else party.name,
            address=[line.strip() for line in (party.address or "").splitlines() if line.strip()],
        )
        for role in ADDRESSED
        if (party := by_role.get(role))
    ]
    if worker is None and name:
        addressees.insert(0, Addressee(role=ADDRESSED["employee"], name=name, address=[]))
    return Sending(claim_number=submitted.claim_number, claimant_name=name, addressees=tuple(addressees))


def sending(case: CaseRow, letter: Letter, issued: bool) -> Sending:
    """:func:`addressed`, with the reviewer's licences in good standing on the letter's date."""
    on = letter.decision_date or dt.date.today()
    licenses = [f"{lic.state} ({lic.kind})" for lic in _good_licenses(case, on)]
    return replace(addressed(case), licenses=tuple(dict.fromkeys(licenses)), draft=not issued)


class Letters(Gate):
    """Each case's letter: issued, read, rendered; and its ineligibility notice. The letters are
    sent by :attr:`organization` (default: read from ``OPENIMR_ORG_*`` at each letter; the
    application gives its settings' own)."""

    organization: Callable[[], Organization] = Organization

    def issue(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool]:
        """Freeze the case's Final Determination letter; returns it and whether it is new.

        Issuing and deciding serialize on the case row: issuing locks it before it reads the
        decisions, and every decision changes it (its version) in the decision's own transaction, so
        a decision racing the issue either lands before the letter is built (and is in it) or fails
        once the letter is issued.
        """
        self.require(who, Action.ISSUE_LETTER, number, "letter")  # a refusal is audited before the lock
        with self._tx() as s:
            s.execute(  # takes the case row's lock (PostgreSQL) or the write lock (SQLite) first
                update(CaseRow)
                .where(CaseRow.case_number == number)
                .values(version=CaseRow.version)
                .execution_options(synchronize_session=False)
            )
            case = self._open(s, who, number, Action.ISSUE_LETTER, "letter", read=None)
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), False
            workflow.check(case.status, Status.LETTER_ISSUED)
            letter = self.letter_record(case, today)
            record = letter.to_json_dict()
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
            case.letter = IssuedLetterRow(
                case_id=case.id, record=record, sha256=digest, issued_by=who.username
            )
            s.flush()
            self._audit(s, who, number, "letter", number, "issue", None, {"sha256": digest})
            self._move(s, who, case, Status.LETTER_ISSUED)
            return letter, True

    @staticmethod
    def letter_record(case: CaseRow, today: dt.date) -> Letter:
        """The Final Determination letter record of a decided case, as issuing builds it."""
        assignment = assigned(case)
        reviewer = assignment.reviewer
        states = [lic.state for lic in _good_licenses(case, today)]
        return Letter(
            file=case.case_number,
            case_number=case.case_number,
            date_assigned=assignment.assigned_on,
            date_of_injury=case.date_of_injury,
            decision_date=today,
            ur_denial_date=case.ur_decision_date,
            application_received=case.application_received,
            priority=case.priority,
            reviewer=Reviewer(license_states=list(dict.fromkeys(states)), specialties=reviewer.specialties),
            claimant=Claimant(age=case.claimant_age, sex=case.claimant_sex),
            clinical_summary=case.clinical_summary,
            issues=[
                Issue(
                    item=i.item,
                    original_request=i.original_request,
                    authorized=i.authorized,
                    decision=i.decision.decision,
                    claims_administrator_guideline=i.claims_administrator_guideline,
                    imro_guideline=i.decision.guideline,
                    rationale=i.decision.rationale,
                )
                for i in case.items
                if i.eligible and i.decision
            ],
        )

    def letter(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool]:
        """The issued letter (True), else a draft from the decisions so far (False); audited."""
        return self._letter(who, number, today)[:2]

    def _letter(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool, Sending]:
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "letter")
            if case.letter is not None:
                letter = Letter.model_validate(case.letter.record)
                return letter, True, sending(case, letter, True)
            if case.assignment is None or not any(i.decision for i in case.items):
                raise NotFound(f"case {number} has no decision yet, so no letter")
            letter = self.letter_record(case, today)  # the same construction as issuing
            return letter, False, sending(case, letter, False)

    def rendered(
        self, who: Principal, number: str, fmt: Format, today: dt.date, form: LetterForm = "sent"
    ) -> str | bytes:
        """The letter as HTML (a draft until issued) or PDF (only once issued): as sent to the
        parties (letterhead, addressees, appeal rights, signature), or in the published form."""
        letter, issued, to = self._letter(who, number, today)
        if fmt == "pdf" and not issued:
            raise NotFound(f"the letter of {number} is not issued yet: only its HTML preview exists")
        if form == "published" or fmt == "txt":
            return render(letter, fmt, self.organization().label)
        return render_sent(letter, to, fmt, self.organization(), today)

    def notice(self, who: Principal, number: str) -> str:
        """The ineligibility notice of an ineligible case, as text; audited."""
        with self._tx() as s:
            return eligibility.notice(number, self._ineligible(s, who, number).eligibility or {})

    def notice_letter(self, who: Principal, number: str, fmt: Literal["html", "pdf"]) -> str | bytes:
        """The ineligibility notice as a letter (HTML or tagged PDF) to the parties, dated the day
        the case was taken in and found ineligible; audited."""
        with self._tx() as s:
            case = self._ineligible(s, who, number)
            text = eligibility.notice(number, case.eligibility or {})
            to, day = addressed(case), case.created_at.date()
        reasons = [line[2:] for line in text.splitlines() if line.startswith("- ")]  # one a line
        return render_notice(number, reasons, to, fmt, self.organization(), day)

    def _ineligible(self, s: Session, who: Principal, number: str) -> CaseRow:
        case = self._open(s, who, number, Action.READ_LETTER, "notice")
        if case.status != Status.INELIGIBLE:
            raise ProcessError(f"case {number} is {case.status}, not ineligible")
        return case
