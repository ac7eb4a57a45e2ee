"""Errors of the instruments package: answers that do not fit their questionnaire."""

from __future__ import annotations

from spinecare.errors import Problem, SpinecareError


class AnswerError(SpinecareError, ValueError):
    """Answers that cannot be read or do not fit their questionnaire.

    ``problems`` lists every problem found, each with the JSON path into the input document
    (``item[2].answer[0].valueCoding``, ``answers.walking``) and a message that names the
    questionnaire item (its linkId) and what was expected.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
