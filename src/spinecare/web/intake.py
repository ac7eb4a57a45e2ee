"""The intake, one question at a time, with an emergency stop.

The answers so far are a draft kept on the server (``spinecare.store.drafts``), so the intake
resumes where it was left, on another device or after signing out; each step is a
Post/Redirect/Get with a one-time form token. After every answer the partial case is assessed
by the engine; an emergency stops the intake at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinecare.instruments.answers import value_problem
from spinecare.instruments.forms import FormItem
from spinecare.instruments.intake import case_from_intake, intake_form
from spinecare.plan.planner import make_plan
from spinecare.reasoning.engine import default_engine
from spinecare.store.drafts import Draft
from spinecare.web.forms import ascii_number
from spinecare.web.i18n import knowledge_text


@dataclass
class IntakeState:
    answers: dict[str, Any] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)

    def draft(self) -> Draft:
        return Draft(dict(self.answers), sorted(self.skipped), list(self.order))


def from_draft(draft: Draft | None) -> IntakeState:
    """The intake state of a stored draft; answers to questions the intake no longer asks
    (its knowledge changed since) are dropped, and so are answers it would now refuse."""
    state = IntakeState()
    if draft is None:
        return state
    questions = intake_form().questions()
    for link, value in draft.answers.items():
        item = questions.get(link)
        if item is None:
            continue
        decoded, problem = decode(item, encode(value))
        if problem is None:
            state.answers[link] = decoded
    state.skipped = {s for s in draft.skipped if s in questions}
    state.order = [k for k in draft.order if k in state.answers or k in state.skipped]
    return state


def encode(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _same(message: str) -> str:
    return message


def decode(item: FormItem, raw: str, unit: str | None = None,
           _: Callable[[str], str] = _same) -> tuple[Any, str | None]:
    """An answer from a form field, and the problem with it in plain words (in the language
    of ``_``, the page's gettext)."""
    raw = raw.strip()
    if item.type == "boolean":
        if raw in ("yes", "no"):
            return raw == "yes", None
        return None, _("Please choose Yes or No, or skip this question.")
    if item.type == "choice":
        option = next((o for o in item.options if str(o.value) == raw), None)
        if option is None:
            return None, _("Please choose one of the answers, or skip this question.")
        return option.value, None
    parsed = ascii_number(raw)
    if parsed is None:
        return None, _("Please write a number in the digits 0 to 9, for example 3.")
    number = float(parsed)
    if item.type == "quantity" and unit:
        chosen = next((u for u in item.units if u.code == unit), None)
        if chosen is None:
            return None, _("Please choose days, weeks, months or years.")
        number = float(number * chosen.factor)
    value: Any = int(number) if number.is_integer() else number
    problem = value_problem(item, value)
    if problem:
        low, high = item.min_value, item.max_value
        return None, _("Please write a number from %(low)s to %(high)s.") % {
            "low": f"{low:g}", "high": f"{high:g}"} \
            if low is not None and high is not None else _("Please check the number.")
    return value, None


def visible_answers(state: IntakeState) -> dict[str, Any]:
    """The answers to questions still shown (an earlier answer may have hidden later ones)."""
    shown = intake_form().enabled(state.answers)
    return {k: v for k, v in state.answers.items() if k in shown}


def next_question(state: IntakeState) -> FormItem | None:
    form = intake_form()
    answers = visible_answers(state)
    shown = form.enabled(answers)
    for link, item in form.questions().items():
        if link in shown and link not in answers and link not in state.skipped:
            return item
    return None


def progress(state: IntakeState) -> tuple[int, int]:
    """(questions done, questions shown so far)."""
    form = intake_form()
    shown = [k for k in form.questions() if k in form.enabled(visible_answers(state))]
    done = [k for k in shown if k in state.answers or k in state.skipped]
    return len(done), len(shown)


def section_of(item: FormItem) -> str | None:
    for candidate, above in intake_form().walk():
        if candidate.link_id == item.link_id:
            groups = [a for a in above if a.type == "group"]
            return groups[0].text if groups else None
    return None


def assess_answers(answers: Mapping[str, Any], age: int | None) -> dict[str, Any]:
    """The engine's assessment of the intake answered so far."""
    case = case_from_intake(dict(answers), case_id="intake",
                            patient={"age": age if age is not None and 0 <= age <= 120 else None})
    return default_engine().assess(case)


def emergency_steps(state: IntakeState, assessment: dict[str, Any], age: int | None,
                    language: str = "en", emergency_number: str = "") -> list[str]:
    """The plain steps of the care plan's "what to do now" for this emergency: the plan
    knowledge's English, or its translation keyed by the rule id, which names the clinic's
    emergency number (``{emergency_number}``) where the English lists the usual ones."""
    case = case_from_intake(visible_answers(state), case_id="intake",
                            patient={"age": age if age is not None and 0 <= age <= 120 else None})
    plan = make_plan(case, assessment)
    out: list[str] = []
    for item in plan.get("immediate_action", []):
        translated = knowledge_text(language, "immediate", str(item["rule"]), "steps", None)
        if translated is None:
            out += [str(step) for step in item["steps"]]
        else:
            out += [str(step).replace("{emergency_number}", emergency_number)
                    for step in translated]
    return out


def urgent_notice(language: str = "en") -> str:
    english = next(i.text for i in intake_form().items if i.link_id == "urgent_notice")
    return str(knowledge_text(language, "intake", "urgent_notice", "text", english))


def introduction(language: str = "en") -> str:
    english = next(i.text for i in intake_form().items if i.link_id == "introduction")
    return str(knowledge_text(language, "intake", "introduction", "text", english))


# The intake's words in the page's language, from knowledge/translations (keyed by linkId,
# option value and unit code), falling back to the intake knowledge's English.


def question_text(item: FormItem, language: str) -> str:
    return str(knowledge_text(language, "intake", item.link_id, "text", item.text))


def section_text(section: str | None, item: FormItem, language: str) -> str | None:
    if section is None:
        return None
    for candidate, above in intake_form().walk():
        if candidate.link_id == item.link_id:
            groups = [a for a in above if a.type == "group"]
            if groups:
                return str(knowledge_text(language, "intake", groups[0].link_id, "text",
                                          section))
    return section


def options_of(item: FormItem, language: str, yes: str, no: str) -> list[tuple[str, str]]:
    if item.type == "boolean":
        return [("yes", yes), ("no", no)]
    return [(str(o.value), str(knowledge_text(language, "intake_option", str(o.value), "text",
                                              o.display)))
            for o in item.options]


def units_of(item: FormItem, language: str) -> list[tuple[str, str]]:
    return [(u.code, str(knowledge_text(language, "intake_unit", u.code, "text", u.display)))
            for u in item.units]
