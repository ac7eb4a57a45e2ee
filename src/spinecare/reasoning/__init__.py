"""The assessment: findings, red flags, triage, the differential and the questions to ask,
from the knowledge in ``spinecare/knowledge`` (see :mod:`spinecare.reasoning.engine`)."""
