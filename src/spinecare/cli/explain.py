"""``spinecare explain``: the patient education articles on the command line.

    spinecare explain TOPIC [--json]    an article by its id or its condition code; for a
                                        treatment id, the articles that discuss it
    spinecare explain --list            every article id with its title
    spinecare explain TOPIC --lang es   the same in Spanish (any language of the library)

The treatment grades in an article come from the treatment knowledge, as ``spinecare evidence``
shows them, in every language. An article not yet translated is printed in English, with a note
on stderr. Exit status: 0 on success; 2 for an unknown topic (with the closest ids).
"""

from __future__ import annotations

import argparse
import difflib

from spinecare.cli.io import EXIT_INVALID, EXIT_OK, Subcommands, report, write_json, write_text

# The few fixed words of this command's own output, per language of the library.
_WORDS = {
    "en": {"discussed": "{name}: discussed in", "none": "  (no article yet)",
           "evidence": "Its evidence in full: spinecare evidence {topic}"},
    "es": {"discussed": "{name}: se trata en", "none": "  (todavía no hay un artículo)",
           "evidence": "Todos sus estudios: spinecare evidence {topic}"},
}


def register(sub: Subcommands) -> None:
    """Add ``explain`` to the ``spinecare`` parser."""
    e = sub.add_parser(
        "explain", help="a patient article on a condition or a treatment",
        description="Print a patient education article in plain words: what the condition is, "
        "when to get help at once, tests, treatments with their evidence grade, what the "
        "patient can do, and its sources. TOPIC is an article id, a condition code, or a "
        "treatment id (then the articles that discuss it are listed).")
    e.add_argument("topic", metavar="TOPIC", nargs="?",
                   help="e.g. lumbar_spinal_stenosis, judging_treatment_claims, walking")
    e.add_argument("--json", action="store_true", help="print the spinecare.education/1 JSON")
    e.add_argument("--list", action="store_true", help="list every article and stop")
    # No argparse choices: the language list lives in spinecare.education, whose import (the
    # library and textstat) every other command would then pay for at start-up.
    e.add_argument("--lang", default="en", metavar="CODE",
                   help="the language of the article: en (default) or another language of the "
                   "library, such as es")
    e.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    from spinecare.education import load_library, render_article, render_text
    from spinecare.education.languages import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES
    from spinecare.plan.knowledge import load_treatments

    language = str(getattr(args, "lang", DEFAULT_LANGUAGE)).strip().lower()
    if language not in LANGUAGES:
        report([f"spinecare explain: --lang: unknown language {args.lang!r} "
                f"(the library has {', '.join(LANGUAGES)})"])
        return EXIT_INVALID
    library = load_library(language=language)
    words = _WORDS[language]
    if args.list:
        write_text("".join(f"{aid}: {a.title}\n" for aid, a in library.articles.items()))
        return EXIT_OK
    if not args.topic:
        report(["spinecare explain: give a TOPIC (an article, condition or treatment id), "
                "or --list to see the articles"])
        return EXIT_INVALID
    topic = args.topic.strip().lower().replace("-", "_").replace(" ", "_")
    article = library.articles.get(topic) or library.for_condition(topic)
    if article is not None:
        if article.id in library.fallbacks:
            report([f"spinecare explain: {article.id} has no translation into {language} "
                    f"({LANGUAGE_NAMES[language]}) yet; printing it in English"])
        doc = render_article(article, library)
        if args.json:
            write_json(doc)
        else:
            write_text(render_text(doc))
        return EXIT_OK
    treatments = load_treatments().treatments
    if topic in treatments:
        naming = [a for a in library.articles.values()
                  if a.treatments is not None and topic in a.treatments.ids]
        if args.json:
            write_json({"treatment": topic, "articles": [a.id for a in naming]})
        else:
            translated = library.treatment_words.get(topic)
            name = treatments[topic].name if translated is None else translated.name
            lines = [words["discussed"].format(name=name)]
            lines += [f"  {a.id}: {a.title}" for a in naming] or [words["none"]]
            lines.append(words["evidence"].format(topic=topic))
            write_text("\n".join(lines) + "\n")
        return EXIT_OK
    known = [*library.articles, *treatments]
    near = [k for k in known if topic in k][:3] or difflib.get_close_matches(topic, known, n=3)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    report([f"spinecare explain: no article or treatment {args.topic!r}{hint}"])
    return EXIT_INVALID
