"""FHIR R4 (the R4B models of ``fhir.resources``) in and out of OpenIMR, shaped after HL7 Da Vinci
Prior Authorization Support (PAS): a PAS request Bundle and the UR organization's ClaimResponse
become an IMR :class:`~openimr.core.case.Application` (:mod:`.intake`); an issued determination
becomes a ClaimResponse, a DocumentReference and a Provenance (:mod:`.determination`); problems
become an OperationOutcome naming each by its FHIRPath (:mod:`.outcome`); :mod:`.capability` says
what the server supports. Pure mapping: no web framework, no database."""
