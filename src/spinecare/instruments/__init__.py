"""Validated instruments: their registry, exact scoring, FHIR questionnaires, the patient
intake, and change over time.

The clinical content is data (``spinecare/knowledge/instruments/*.toml``); these modules interpret
it. Importing this package imports nothing else, so the command line stays quick to start.

- :mod:`~spinecare.instruments.registry`: ``instruments()``, ``instrument(id)``: the strict data
  models of each instrument (items, answer options and values, scoring rule, missing-item rule,
  bands, MCID, sources, verification tags, licence note).
- :mod:`~spinecare.instruments.scoring`: ``score_instruments(case.instruments)`` (used by the
  engine), ``score_answers(id, answers_by_link_id)``, ``score_case_rules(case)`` (the Cook
  clusters over case facts), ``describe(...)``.
- :mod:`~spinecare.instruments.fhir`: ``questionnaire(id)`` (FHIR R4 Questionnaire JSON),
  ``check_questionnaire(doc)``, ``questionnaire_response(id, answers)``.
- :mod:`~spinecare.instruments.answers`: ``read_response(doc)`` for a QuestionnaireResponse or a
  plain answers document, with errors naming the JSON path and linkId.
- :mod:`~spinecare.instruments.intake`: the patient intake questionnaire and its mapping to the
  case's ``history`` and ``symptoms``.
- :mod:`~spinecare.instruments.cases`: ``case_from_responses(...)``, ``responses_from_case(...)``.
- :mod:`~spinecare.instruments.change`: ``change_over_time(scored_administrations)``.
"""
