"""The criteria language: parsed once into a small typed tree, then evaluated.

Knowledge files write criteria as short expressions::

    saddle_anaesthesia or symptoms.bladder in ('new_retention', 'new_incontinence')
    at_least(3, gait_deviation, hoffmann_sign, inverted_supinator, babinski_sign, age_over_45)
    any_imaging(item.region == 'lumbar', item.canal_ap_diameter_mm < 10)

Names:
- ``section.field`` reads a case fact (``patient``, ``history``, ``symptoms``, ``exam``);
- a bare name is a *finding* (a named, labelled predicate from ``findings.toml``);
- ``flag.CODE`` is whether a red flag was raised; ``likely.CODE`` whether a condition is at least
  moderately likely; ``high.CODE`` whether it is highly likely;
- ``item.field`` is a field of the current element inside ``any_imaging`` / ``any_deficit``;
- care-plan rules (parsed with ``references=PLAN_REFERENCES``) also read the finished
  assessment: ``situation.triage``, ``situation.mjoa_band``, ``situation.duration_weeks``,
  ``flag_level.CODE``, ``unlikely.CODE``, ``triage_rule.RULE_ID``, ``lbp_source.SOURCE``,
  ``contraindication.ID``, ``band.INSTRUMENT`` (an instrument's severity band) and
  ``score.NAME`` (a score's value) (values in :class:`spinecare.plan.select.Situation`).

:func:`unknowns` names the unknown facts and references an unknown result depends on (what to
ask to settle it); :func:`unparse` writes a tree back as text.

Functions (``at_least``, ``any_imaging``, ``known``...) are declared once, in the function table
(:mod:`spinecare.criteria.functions`), with their meaning and their code generation.

The tree is the contract between the knowledge and its evaluators. Two evaluate it here: the
reference interpreter :func:`evaluate` (plain recursion, easy to trust) and the compiler
:func:`compile_batch`, which turns a batch of expressions into one Python function (fast, used on
the hot path). A test checks that both agree on generated cases. The same tree can be compiled to
columnar expressions for cohort screening.

Comparisons with an unknown operand are unknown; ``and``/``or``/``not`` are Kleene
(:mod:`spinecare.criteria.logic`).
"""

from __future__ import annotations

from spinecare.criteria.compiler import (
    Batch,
    EvaluationError,
    Names,
    Program,
    compile_batch,
    identifier,
)
from spinecare.criteria.functions import FUNCTIONS, Function
from spinecare.criteria.interpreter import Values, evaluate, unknowns
from spinecare.criteria.logic import Tri
from spinecare.criteria.nodes import (
    And,
    Call,
    Cmp,
    CmpOp,
    Const,
    Fact,
    In,
    ItemFact,
    Node,
    Not,
    Or,
    Ref,
    RefKind,
    facts,
    refs,
)
from spinecare.criteria.parser import ASSESSMENT_REFERENCES, PLAN_REFERENCES, parse, unparse

__all__ = [
    "ASSESSMENT_REFERENCES",
    "FUNCTIONS",
    "PLAN_REFERENCES",
    "And",
    "Batch",
    "Call",
    "Cmp",
    "CmpOp",
    "Const",
    "EvaluationError",
    "Fact",
    "Function",
    "In",
    "ItemFact",
    "Names",
    "Node",
    "Not",
    "Or",
    "Program",
    "Ref",
    "RefKind",
    "Tri",
    "Values",
    "compile_batch",
    "evaluate",
    "facts",
    "identifier",
    "parse",
    "refs",
    "unknowns",
    "unparse",
]
