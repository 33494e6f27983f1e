"""The fixed anchors of a Final Determination letter's layout.

Both the reader (``parse``) and the writer (``render``) use these, so a rendered letter always
parses back. Headings and field labels are the layout's structure; the connecting prose a
rendered letter prints is our own wording (see ``render``).
"""

from __future__ import annotations

HEADING_HOW = "HOW THE IMR FINAL DETERMINATION WAS MADE"
HEADING_SUMMARY = "CLINICAL CASE SUMMARY"
HEADING_ISSUES = "IMR ISSUES, DECISIONS AND RATIONALES"

HEADER_LABELS = {
    "case_number": "Case Number:",
    "date_assigned": "Date Assigned:",
    "date_of_injury": "Date of Injury:",
    "decision_date": "Decision Date:",
    "ur_denial_date": "UR Denial Date:",
    "priority": "Priority:",
    "application_received": "Application Received:",
}

CREDENTIALS_INTRO = "The Expert Reviewer has the following credentials:"
LICENSE_LABEL = "State(s) of Licensure:"
SPECIALTY_LABEL = "Certification(s)/Specialty:"

CA_GUIDELINE_LABEL = "Claims Administrator guideline:"
# The review organization's line reads "<organization> guideline:". Letters written here name a
# neutral organization unless told its name; the published letters' label is still read.
DEFAULT_ORGANIZATION = "Independent Review Organization"
PUBLISHED_ORGANIZATIONS = ("MAXIMUS",)
RATIONALE_LABEL = "Decision rationale:"

# Partial authorization: "A was the original request. B was authorized by the Claims
# Administrator. The remaining IMR eligible portion of the original request, C is: Upheld",
# or "A was the original request. The Claims Administrator authorized B, leaving the original
# request IMR eligible. The original request, C is: Upheld".
ORIGINAL_REQUEST_TAIL = "was the original request."
AUTHORIZED_TAIL = "was authorized by the Claims Administrator."
REMAINING_LEAD = "The remaining IMR eligible portion of the original request,"
AUTHORIZED_LEAD = "The Claims Administrator authorized"
LEAVING_TAIL = ", leaving the original request IMR eligible."
ORIGINAL_LEAD = "The original request,"
