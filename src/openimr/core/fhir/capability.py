"""The CapabilityStatement: what OpenIMR's FHIR endpoint supports, and nothing it does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from openimr.core.fhir.intake import MAX_ENTRIES
from openimr.core.fhir.pas import PAS


def capability(version: str, base: str, released: dt.date) -> dict[str, Any]:
    """The server's CapabilityStatement (R4, JSON): ``Claim/$submit`` (a PAS request Bundle with
    the UR ClaimResponse), ``ClaimResponse`` search by ``request``, and this ``metadata``."""
    return CapabilityStatement.model_validate(
        {
            "status": "active",
            "date": released.isoformat(),
            "kind": "instance",
            "name": "OpenIMR",
            "title": "OpenIMR Independent Medical Review FHIR endpoint",
            "description": (
                "Takes an IMR dispute in as a Da Vinci PAS shaped request Bundle (Claim, Patient, "
                "Practitioner, Organization, Coverage, DocumentReference) with the utilization review "
                "organization's ClaimResponse, and gives the Final Determination out as a ClaimResponse "
                "(one adjudication per item), the letter as a DocumentReference and a Provenance. "
                f"Bundles hold at most {MAX_ENTRIES} entries. Not a conformant PAS server: see the README."
            ),
            "software": {"name": "OpenIMR", "version": version},
            "implementation": {"description": "OpenIMR", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": (
                        "Authenticate with 'Authorization: Bearer TOKEN' (POST /api/tokens). "
                        "Submitting needs a role that may create cases; reading a determination, "
                        "one that may read its letter."
                    ),
                    "security": {"description": "Bearer token from POST /api/tokens; no SMART on FHIR."},
                    "resource": [
                        {
                            "type": "Claim",
                            "supportedProfile": [f"{PAS}profile-claim"],
                            "operation": [
                                {
                                    "name": "submit",
                                    "definition": "http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit",
                                    "documentation": (
                                        "A PAS request Bundle plus the UR ClaimResponse for its "
                                        "Claim -> one IMR case; the same Bundle again -> the same "
                                        "case. Answers a Bundle with an acknowledging ClaimResponse "
                                        "(items pended, preAuthRef the case number), or an "
                                        "OperationOutcome naming each problem by FHIRPath."
                                    ),
                                }
                            ],
                        },
                        {
                            "type": "ClaimResponse",
                            "interaction": [{"code": "search-type"}],
                            "searchParam": [
                                {
                                    "name": "request",
                                    "type": "reference",
                                    "documentation": "Claim/CMyy-nnnnnnn: the IMR case number.",
                                }
                            ],
                        },
                        {"type": "DocumentReference", "documentation": "Included with a ClaimResponse."},
                        {"type": "Provenance", "documentation": "Included with a ClaimResponse."},
                    ],
                }
            ],
        }
    ).model_dump(mode="json")
