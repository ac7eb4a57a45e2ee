"""The checks themselves can fail: broken copies of the library and bad sentences must be caught.

Each contract test in test_articles.py relies on a check here being able to say no. Every test
below feeds one deliberately wrong input and expects the exact complaint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spinecare.education import (
    EducationLibraryError,
    load_library,
    parse_article,
    reading_problems,
)
from spinecare.education.readability import (
    SPANISH_LIMITS,
    fernandez_huerta_grade,
    measure,
    sentences,
    words,
)
from spinecare.education.wording import (
    absolute_claims,
    diagnosis_phrases,
    mentions_urgent_care,
    restated_grades,
    speaks_of_possibility,
    unexplained_terms,
)
from spinecare.plan.knowledge import KnowledgeFileError
from tests.conftest import broken_copy
from tests.education.conftest import EDUCATION_DIR
from tests.education.test_articles import section_reading_problems

UNREADABLE = (
    "Neurogenic claudication, characteristically precipitated by lumbar extension and "
    "ameliorated by flexion, constitutes the cardinal manifestation of degenerative "
    "lumbar spinal canal compromise necessitating comprehensive multidisciplinary evaluation."
)


def _broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return broken_copy(EDUCATION_DIR, tmp_path / "education", file, old, new)


def _problems(folder: Path) -> str:
    with pytest.raises(EducationLibraryError) as err:
        load_library(folder)
    return str(err.value)


def test_a_deliberately_unreadable_article_fails_the_reading_level_check(tmp_path: Path) -> None:
    original = (EDUCATION_DIR / "lumbar_spinal_stenosis.toml").read_text()
    old = re.search(r'"Your spine has a tube of bone[^"]*"', original)
    assert old is not None
    folder = _broken(tmp_path, "lumbar_spinal_stenosis.toml", old.group(0), f'"{UNREADABLE}"')
    article = load_library(folder).articles["lumbar_spinal_stenosis"]
    problems = section_reading_problems(article)
    assert any(p.startswith("lumbar_spinal_stenosis: what_it_is: Flesch-Kincaid grade")
               for p in problems), problems


def test_a_long_sentence_breaks_the_25_word_limit() -> None:
    sentence = " ".join(["walk"] * 26) + "."
    assert reading_problems(sentence)[0].startswith("sentence of 26 words (limit 25)")
    at_limit = reading_problems(" ".join(["walk"] * 25) + ".")
    assert not any(p.startswith("sentence of") for p in at_limit)
    # One 25-word sentence alone still breaks the 20-word average: both limits apply.
    assert at_limit == ["sentences average 25.0 words (limit 20)"]


def test_the_grade_is_textstats_on_the_same_text() -> None:
    import textstat  # type: ignore[import-untyped]

    text = "The spinal canal is a tube of bone. It holds the nerves."
    assert measure(text).grade == textstat.flesch_kincaid_grade(text)
    assert sentences(text) == ("The spinal canal is a tube of bone.", "It holds the nerves.")
    assert words("About 1 in 3 people, 97% of them.") == 8


def test_an_unknown_key_is_reported_with_file_and_key(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", "kind =", 'colour = "red"\nkind =')
    assert "spinal_infection.toml: colour: unknown key" in _problems(folder)


def test_an_unknown_key_inside_a_section_is_reported_with_its_path(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", "[tests]\n", "[tests]\nnote = 'x'\n")
    assert "spinal_infection.toml: tests.note: unknown key" in _problems(folder)


def test_problems_in_several_files_are_all_reported_each_with_its_file(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", "kind =", 'colour = "red"\nkind =')
    text = (folder / "vertebral_fracture.toml").read_text()
    (folder / "vertebral_fracture.toml").write_text(text.replace("[tests]", "[test]", 1))
    (folder / "stray.toml").write_text('title = "x"')
    with pytest.raises(EducationLibraryError) as err:
        load_library(folder)
    files = {e.file for e in err.value.errors}
    assert files == {"index.toml", "spinal_infection.toml", "vertebral_fracture.toml", "stray.toml"}
    message = str(err.value)
    assert "vertebral_fracture.toml: test: unknown key" in message
    assert "index.toml: articles: stray.toml is not listed" in message
    assert "stray.toml: kind: missing required key" in message


def test_an_unknown_treatment_id_is_reported(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "lumbar_spinal_stenosis.toml", '"walking_programme"', '"walkin"')
    assert (
        "lumbar_spinal_stenosis.toml: treatments.ids[2]: unknown treatment 'walkin'"
        in _problems(folder)
    )


def test_a_treatment_without_a_verdict_for_the_articles_condition_is_refused(
    tmp_path: Path,
) -> None:
    file = "cervical_radiculopathy.toml"
    folder = _broken(tmp_path, file, '"cervical_collar"]', '"cervical_collar", "nsaids"]')
    assert "has no verdict for 'cervical_radiculopathy'" in _problems(folder)


def test_an_unknown_source_is_reported(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", '"darouiche2006"', '"darouiche2007"')
    assert "spinal_infection.toml: sources[1]: unknown source 'darouiche2007'" in _problems(folder)


def test_an_article_without_an_urgent_section_is_refused(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", "[urgent]", "[urgent_old]")
    problems = _problems(folder)
    assert "spinal_infection.toml: urgent: missing required key" in problems
    assert "urgent_old: unknown key" in problems


def test_a_condition_article_cannot_put_urgent_help_last(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "spinal_infection.toml", "kind =", "urgent_first = false\nkind =")
    assert "a condition article puts 'urgent' first" in _problems(folder)


def test_an_article_file_missing_from_the_index_is_reported(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "index.toml", '    "vertebral_fracture",\n', "")
    assert "index.toml: articles: vertebral_fracture.toml is not listed" in _problems(folder)


def test_an_index_entry_without_a_file_is_reported(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "index.toml", '"vertebral_fracture",', '"vertebral_fracture",\n"x",')
    assert "index.toml: articles[13]: no file x.toml" in _problems(folder)


def test_two_articles_for_one_condition_are_refused(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "index.toml", '"vertebral_fracture",', '"vertebral_fracture", "y",')
    (folder / "y.toml").write_text((folder / "vertebral_fracture.toml").read_text())
    assert "y and vertebral_fracture both cover 'vertebral_fracture'" in _problems(folder)


def test_an_id_key_in_an_article_is_refused() -> None:
    with pytest.raises(KnowledgeFileError, match=r"x\.toml: id: the id comes from the file name"):
        parse_article('id = "x"', article_id="x")


def test_the_diagnosis_check_catches_telling_the_reader_what_they_have() -> None:
    assert diagnosis_phrases("You have lumbar spinal stenosis.") != []
    assert diagnosis_phrases("If you have back pain, keep moving.") == []
    assert diagnosis_phrases("You may have a trapped nerve.") == []


def test_the_absolute_claim_check_catches_promises_but_not_quoted_words() -> None:
    assert absolute_claims("This treatment cures stenosis.") != []
    assert absolute_claims("It is always safe.") != []
    assert absolute_claims("Be careful with words like “cure”.") == []


def test_the_grade_check_catches_a_grade_written_by_hand() -> None:
    assert restated_grades("There is moderate-certainty evidence for walking.") != []
    assert restated_grades("Guidelines recommend surgery.") != []
    assert restated_grades("Walking may help.") == []


def test_the_glossary_check_catches_an_unexplained_term() -> None:
    glossary = {"myelopathy": "damage to the spinal cord"}
    assert unexplained_terms(["Myelopathy is common. It means..."], glossary) != []
    assert unexplained_terms(["Myelopathy means damage to the cord."], glossary) == []
    assert unexplained_terms(["This is myelopathy (cord damage)."], glossary) == []


# ---------------------------------------------------------------------------------------------
# Spanish: the same checks, each able to say no
# ---------------------------------------------------------------------------------------------

UNREADABLE_ES = (
    "La claudicación neurógena, característicamente precipitada por la extensión lumbar y "
    "aminorada mediante la flexión, constituye la manifestación fundamental del compromiso "
    "degenerativo del conducto raquídeo, que requiere una evaluación multidisciplinaria."
)


def test_a_deliberately_unreadable_spanish_article_fails_the_reading_level_check(
    tmp_path: Path,
) -> None:
    file = "es/lumbar_spinal_stenosis.toml"
    original = (EDUCATION_DIR / file).read_text()
    old = re.search(r'"La columna tiene un tubo de hueso[^"]*"', original)
    assert old is not None
    folder = _broken(tmp_path, file, old.group(0), f'"{UNREADABLE_ES}"')
    article = load_library(folder, language="es").articles["lumbar_spinal_stenosis"]
    problems = section_reading_problems(article)
    assert any(p.startswith("lumbar_spinal_stenosis: what_it_is: Fernández Huerta")
               for p in problems), problems
    assert any("Szigriszt-Pazos perspicuity" in p for p in problems), problems


def test_the_spanish_scores_are_textstats_with_spanish_syllables_and_leave_english_alone() -> None:
    import textstat  # type: ignore[import-untyped]
    from textstat.textstat import textstatistics  # type: ignore[import-untyped]

    text = "La columna tiene un tubo de hueso. Dentro van los nervios."
    spanish = textstatistics()
    spanish.set_lang("es")
    reading = measure(text, "es")
    assert reading.ease == spanish.fernandez_huerta(text)
    assert reading.perspicuity == spanish.szigriszt_pazos(text)
    assert reading.grade == fernandez_huerta_grade(spanish.fernandez_huerta(text))
    # Measuring Spanish must not switch textstat's shared language for English text.
    english = "The spinal canal is a tube of bone. It holds the nerves."
    assert measure(english).grade == textstat.flesch_kincaid_grade(english)
    assert measure(english).ease is None


def test_the_fernandez_huerta_grade_is_8_from_60_and_above_8_below_it() -> None:
    assert fernandez_huerta_grade(60.0) == 8.0
    assert fernandez_huerta_grade(59.9) > SPANISH_LIMITS.max_grade
    assert fernandez_huerta_grade(70.0) == 6.0
    assert fernandez_huerta_grade(95.0) == 4.0
    assert fernandez_huerta_grade(10.0) == 16.0


def test_spanish_words_with_accents_count_once() -> None:
    assert words("Muchas personas de más de 60 años tienen algo de estrechez.", "es") == 11
    # The English pattern would cut "años" in two: the language matters.
    assert words("años", "en") == 2


def test_a_long_spanish_sentence_breaks_the_25_word_limit() -> None:
    sentence = " ".join(["camine"] * 26) + "."
    problems = reading_problems(sentence, language="es")
    assert any(p.startswith("sentence of 26 words (limit 25)") for p in problems), problems
    at_limit = reading_problems(" ".join(["camine"] * 25) + ".", language="es")
    assert not any(p.startswith("sentence of") for p in at_limit)


def test_the_spanish_diagnosis_check_catches_usted_tiene_but_not_a_condition() -> None:
    assert diagnosis_phrases("Usted tiene estenosis lumbar.", "es") != []
    assert diagnosis_phrases("Esto quiere decir que tiene una ciática.", "es") != []
    assert diagnosis_phrases("Si usted tiene dolor de espalda, siga activo.", "es") == []
    assert diagnosis_phrases("Puede que tenga un nervio pinzado.", "es") == []


def test_the_spanish_absolute_claim_check_catches_promises_but_not_quoted_words() -> None:
    assert absolute_claims("Este tratamiento cura la estenosis.", "es") != []
    assert absolute_claims("Siempre es seguro.", "es") != []
    assert absolute_claims("Resultados garantizados.", "es") != []
    assert absolute_claims("Éxito del 100 % de los casos.", "es") != []
    assert absolute_claims("Tenga cuidado con palabras como «cura» o “sin riesgo”.", "es") == []


def test_the_spanish_grade_check_catches_a_grade_written_by_hand() -> None:
    assert restated_grades("Hay evidencia moderada a favor de caminar.", "es") != []
    assert restated_grades("Las guías lo recomiendan.", "es") != []
    assert restated_grades("No se recomienda la tracción.", "es") != []
    assert restated_grades("Caminar puede ayudar.", "es") == []


def test_the_spanish_glossary_check_catches_an_unexplained_term() -> None:
    glossary = {"mielopatía": "daño de la médula espinal"}
    assert unexplained_terms(["La mielopatía es común."], glossary, "es") != []
    assert unexplained_terms(["Mielopatía quiere decir daño."], glossary, "es") == []
    assert unexplained_terms(["Esto se llama mielopatía."], glossary, "es") == []
    assert unexplained_terms(["Es una mielopatía (daño de la médula)."], glossary, "es") == []


def test_the_spanish_urgent_and_possibility_checks_can_say_no() -> None:
    assert mentions_urgent_care("Vaya ahora a urgencias.", "es")
    assert mentions_urgent_care("Llame al 112.", "es")
    assert not mentions_urgent_care("Hable con su médico en la próxima visita.", "es")
    assert speaks_of_possibility("Puede ser una estenosis.", "es")
    assert not speaks_of_possibility("Es una estenosis.", "es")
