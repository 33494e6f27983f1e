"""The Final Determination letter (a draft until issued, frozen once issued) and the ineligibility
notice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import update

from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.core.process import eligibility, workflow
from openimr.core.process.data import load
from openimr.core.process.roster import License
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services.access import Gate, NotFound, ProcessError, assigned
from openimr.services.render import Format, render
from openimr.store.schema import (
    CaseRow,
    IssuedLetterRow,
)


class Letters(Gate):
    """Each case's letter: issued, read, rendered; and its ineligibility notice."""

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
        good_standing = load("specialties")["qualification"]["good_standing"]
        states = [
            lic.state
            for lic in (License(**x) for x in reviewer.licenses)
            if lic.in_good_standing(today, good_standing)
        ]
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
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "letter")
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), True
            if case.assignment is None or not any(i.decision for i in case.items):
                raise NotFound(f"case {number} has no decision yet, so no letter")
            return self.letter_record(case, today), False  # the same construction as issuing

    def rendered(self, who: Principal, number: str, fmt: Format, today: dt.date) -> str | bytes:
        """The letter as HTML (a draft until issued) or PDF (only once issued)."""
        letter, issued = self.letter(who, number, today)
        if fmt == "pdf" and not issued:
            raise NotFound(f"the letter of {number} is not issued yet: only its HTML preview exists")
        return render(letter, fmt)

    def notice(self, who: Principal, number: str) -> str:
        """The ineligibility notice of an ineligible case; audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "notice")
            if case.status != Status.INELIGIBLE:
                raise ProcessError(f"case {number} is {case.status}, not ineligible")
            return eligibility.notice(number, case.eligibility or {})
