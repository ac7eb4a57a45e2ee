"""FHIR R4 in and out.

- :mod:`~spinecare.fhir.incoming`: ``to_case(bundle_or_resources)``: what the record holds
  (Patient, Observation, Condition, QuestionnaireResponse) becomes a ``spinecare.case/1`` case,
  with the resources each field came from and every problem;
- :mod:`~spinecare.fhir.codes`: the code -> case field mapping (``knowledge/fhir_codes.toml``);
- :mod:`~spinecare.fhir.settings`: the canonical base (``SPINECARE_FHIR_BASE``).

fhir.resources 8 has only R4B models; spinecare validates with them and emits R4 JSON that uses
no R4B-only element (see :mod:`spinecare.instruments.fhir`).
"""
