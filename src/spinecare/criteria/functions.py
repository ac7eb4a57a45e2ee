"""The function table: every function the criteria language knows, declared once.

Each :class:`Function` says how it is called (the kinds of its arguments), what it means (its
reference implementation, which the interpreter runs) and how it is compiled (its code
generation, which the compiler splices into the generated function). The parser, the
interpreter and the compiler all dispatch through :data:`FUNCTIONS`; none of them names a
function. ``tests/criteria/test_functions.py`` runs every entry through both evaluators, so a new
function cannot ship with a code generation that disagrees with its meaning.

Argument kinds:

- ``integer``: a literal whole number (``k`` of ``at_least(k, ...)``), passed as an ``int``;
- ``criterion``: a true/false/unknown criterion, passed evaluated;
- ``value``: any operand (a case fact, a reference), passed evaluated, possibly ``None``;
- ``item``: a criterion over one element of the function's collection (``item.region``),
  passed as a function of the element, since it is evaluated once per element.

The last argument kind of a variadic function repeats, at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from spinecare.case import Case, Imaging, MotorDeficit, PriorTreatment
from spinecare.criteria import logic

ArgKind = Literal["integer", "criterion", "value", "item"]
Collection = Literal["imaging", "motor_deficits", "prior_treatments"]
#: Where each collection is in the case, as the interpreter reads it and as generated code reads it.
_COLLECTIONS: Mapping[str, tuple[Callable[[Case], list[Any] | None], str]] = MappingProxyType({
    "imaging": (lambda c: c.imaging, "c.imaging"),
    "motor_deficits": (lambda c: c.exam.motor_deficits, "c.exam.motor_deficits"),
    "prior_treatments": (lambda c: c.history.prior_treatments, "c.history.prior_treatments"),
})

#: ``generate(args, tmp)``: Python source for a call, from the source of each argument (an
#: ``item`` argument arrives as a one-argument ``lambda``) and a maker of fresh local names.
Generate = Callable[[tuple[str, ...], Callable[[], str]], str]
#: ``loop(element, item_args)``: for a function of two ``item`` arguments, the body of a
#: function of ``items`` (the collection, not None) that walks it itself, the arguments
#: arriving as expressions over the name ``element``; and the expression calling that function,
#: given its name (``{helper}``) and a fresh local for the collection (``{items}``). The compiler
#: uses it where the arguments read nothing but the element, so no closure is made per case.
Loop = Callable[[str, tuple[str, ...]], tuple[list[str], str]]


@dataclass(frozen=True, slots=True)
class Function:
    """One function of the criteria language."""

    name: str
    params: tuple[ArgKind, ...]
    #: Whether the last parameter repeats (at least once).
    variadic: bool
    #: ``reference(case, *args)``: the meaning, as plain Python over evaluated arguments.
    reference: Callable[..., logic.Tri]
    generate: Generate = field(compare=False)
    #: Names the generated code calls, bound in the compiled function's namespace.
    runtime: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: For ``item`` arguments: the case list walked and the model of its elements.
    collection: Collection | None = None
    item_model: type[BaseModel] | None = None
    #: A criterion using the function, to exercise it in the contract test of the table.
    example: str = ""
    #: The same call as a loop of its own (see :data:`Loop`), where the compiler can use one.
    loop: Loop | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        # Trees print in error messages and test failures: the name says all that matters.
        return f"{self.name}()"

    def kinds(self, n: int) -> Iterator[ArgKind]:
        """The kind of each of ``n`` arguments; the caller checks ``n`` with :meth:`accepts`."""
        for i in range(n):
            yield self.params[min(i, len(self.params) - 1)]

    def accepts(self, n: int) -> bool:
        return n >= len(self.params) if self.variadic else n == len(self.params)

    def usage(self) -> str:
        names = list(self.params) + (["..."] if self.variadic else [])
        return f"{self.name}({', '.join(names)})"


def any_item(items: list[Any] | None, collection: str, where: Callable[[Any], logic.Tri],
             pred: Callable[[Any], logic.Tri]) -> logic.Tri:
    """Whether some element of ``items`` that passes ``where`` satisfies ``pred``."""
    if items is None:
        return None
    results = []
    for it in items:
        w = where(it)
        if w is False:
            continue
        results.append(logic.and_(w, pred(it)))
    if not results:
        # No element was looked at: an examination that lists no weakness found none, and a
        # history listing what was tried names everything tried, but no lumbar scan says
        # nothing about the lumbar canal.
        return None if collection == "imaging" else False
    return logic.or_(*results)


def _count(name: str, most: bool) -> Function:
    decide = logic.at_most if most else logic.at_least

    def generate(args: tuple[str, ...], tmp: Callable[[], str]) -> str:
        # logic.at_least / at_most written out, counting in C: the values are only True,
        # False and None, so tuple.count finds each by identity
        k, values, t = args[0], ", ".join(args[1:]), tmp()
        if most:
            return (f"(True if ({t} := ({values},)).count(True) + {t}.count(None) <= {k} else "
                    f"(False if {t}.count(True) > {k} else None))")
        return (f"(True if ({t} := ({values},)).count(True) >= {k} else "
                f"(False if {t}.count(True) + {t}.count(None) < {k} else None))")

    return Function(
        name=name,
        params=("integer", "criterion"),
        variadic=True,
        reference=lambda case, k, *values: decide(k, values),
        generate=generate,
        example=f"{name}(2, symptoms.claudication, symptoms.relief_sitting, patient.age > 60)",
    )


def _any(name: str, collection: Collection, model: type[BaseModel], example: str) -> Function:
    def reference(case: Case, where: Callable[[Any], logic.Tri],
                  pred: Callable[[Any], logic.Tri]) -> logic.Tri:
        return any_item(_COLLECTIONS[collection][0](case), collection, where, pred)

    source = _COLLECTIONS[collection][1]

    def generate(args: tuple[str, ...], tmp: Callable[[], str]) -> str:
        items = tmp()
        # Most cases list no imaging: decide that without building the two closures.
        return (f"(None if ({items} := {source}) is None else "
                f"_any_item({items}, {collection!r}, {args[0]}, {args[1]}))")

    def loop(it: str, args: tuple[str, ...]) -> tuple[list[str], str]:
        # any_item written out: the Kleene "and" of where and pred per element, the Kleene
        # "or" over the elements looked at (a true one decides it), and any_item's answer for
        # none looked at.
        nothing = "None" if collection == "imaging" else "False"
        body = ["seen = unknown = False",
                f"for {it} in items:",
                f"    where = {args[0]}",
                "    if where is False:",
                "        continue",
                "    seen = True",
                f"    holds = {args[1]}",
                "    if holds is False:",
                "        continue",
                "    if where is True and holds is True:",
                "        return True",
                "    unknown = True",
                f"return (None if unknown else False) if seen else {nothing}"]
        return body, f"(None if ({{items}} := {source}) is None else {{helper}}({{items}}))"

    return Function(name=name, params=("item", "item"), variadic=False, reference=reference,
                    generate=generate, runtime={"_any_item": any_item}, collection=collection,
                    item_model=model, example=example, loop=loop)


def _known(case: Case, value: Any) -> logic.Tri:
    """Whether a value is known: true or false, never unknown, so that a rule may say what to
    do while something is still missing."""
    return value is not None


def distinct_myotomes(items: list[Any] | None, k: int,
                      where: Callable[[Any], logic.Tri]) -> logic.Tri:
    """Whether the weak muscles of ``items`` that pass ``where`` span at least ``k`` distinct
    myotomes: neurology that does not fit one root (red-flags reference 6.3). A deficit whose
    myotome is not recorded, or whose ``where`` is unknown, might be another one."""
    if items is None:
        return None
    seen: set[str] = set()
    maybe = 0
    for it in items:
        w = where(it)
        if w is False:
            continue
        if w is None or it.myotome is None:
            maybe += 1
        else:
            seen.add(it.myotome)
    if len(seen) >= k:
        return True
    return None if len(seen) + maybe >= k else False


def mjoa_total(case: Case) -> int | None:
    """The modified JOA total (0-18, Benzel): the sum of its four domains, each required."""
    m = case.instruments.mjoa
    if m is None:
        return None
    return (m.upper_extremity_motor + m.lower_extremity_motor + m.upper_extremity_sensation
            + m.micturition)


def _mjoa_at_most(case: Case, k: int) -> logic.Tri:
    total = mjoa_total(case)
    return None if total is None else total <= k


def _generate_mjoa(args: tuple[str, ...], tmp: Callable[[], str]) -> str:
    m = tmp()
    return (f"(None if ({m} := c.instruments.mjoa) is None else "
            f"{m}.upper_extremity_motor + {m}.lower_extremity_motor"
            f" + {m}.upper_extremity_sensation + {m}.micturition <= {args[0]})")


def imaged(items: list[Any] | None, region: Any, modality: Any) -> bool:
    """Whether the case lists a scan of ``region`` by ``modality``."""
    return any(it.region == region and it.modality == modality for it in items or ())


def _imaged(case: Case, region: Any, modality: Any) -> logic.Tri:
    """Whether the case already holds this scan: never unknown, since a scan the case does not
    list is one the plan may order (a plan must not order a scan that is in the case)."""
    return imaged(case.imaging, region, modality)


FUNCTIONS: Mapping[str, Function] = MappingProxyType({f.name: f for f in (
    _count("at_least", most=False),
    _count("at_most", most=True),
    _any("any_imaging", "imaging", Imaging,
         "any_imaging(item.region == 'lumbar', item.canal_ap_diameter_mm < 10)"),
    _any("any_deficit", "motor_deficits", MotorDeficit,
         "any_deficit(item.limb == 'leg', item.mrc_grade <= 4)"),
    _any("any_prior_treatment", "prior_treatments", PriorTreatment,
         "any_prior_treatment(item.treatment == 'exercise_therapy', "
         "item.response in ('no_change', 'worse'))"),
    Function(name="imaged", params=("value", "value"), variadic=False, reference=_imaged,
             generate=lambda args, tmp: f"_imaged(c.imaging, {args[0]}, {args[1]})",
             runtime={"_imaged": imaged}, example="imaged('lumbar', 'mri')"),
    Function(name="known", params=("value",), variadic=False, reference=_known,
             generate=lambda args, tmp: f"({args[0]} is not None)",
             example="known(exam.pedal_pulses)"),
    Function(name="distinct_myotomes", params=("integer", "item"), variadic=False,
             reference=lambda case, k, where: distinct_myotomes(case.exam.motor_deficits, k,
                                                                where),
             generate=lambda args, tmp: (f"_distinct_myotomes(c.exam.motor_deficits, "
                                         f"{args[0]}, {args[1]})"),
             runtime={"_distinct_myotomes": distinct_myotomes}, collection="motor_deficits",
             item_model=MotorDeficit, example="distinct_myotomes(1, item.limb == 'leg')"),
    Function(name="mjoa_at_most", params=("integer",), variadic=False,
             reference=_mjoa_at_most, generate=_generate_mjoa,
             example="mjoa_at_most(14)"),
)})
"""Every function of the language, by name."""
