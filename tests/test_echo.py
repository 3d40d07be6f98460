"""Phrase picking for clean-language echoes, cue detection and scale numbers."""

from __future__ import annotations

import pytest

from bot.echo import MAX_WORDS, detect_cue, find_scale, salient_phrase
from bot.prompts import PromptSet


def test_phrase_is_exact_substring_of_content_words(fi: PromptSet) -> None:
    text = "Asiakkaan kanssa oli vaikea keskustelu, ja olin illalla tosi väsynyt."
    phrase = salient_phrase(text, fi.stopwords, fi.cues["heavy"])
    assert phrase == "vaikea keskustelu"
    assert phrase in text


def test_phrase_keeps_the_workers_spelling_and_case(fi: PromptSet) -> None:
    text = "Tiimipalaverissa KUKAAN ei kuunnellut."
    phrase = salient_phrase(text, fi.stopwords)
    assert phrase is not None and phrase in text
    assert phrase == "Tiimipalaverissa KUKAAN ei kuunnellut"


def test_phrase_never_crosses_a_clause_break(fi: PromptSet) -> None:
    text = "Aamu sujui. Iltapäivä venyi"
    phrase = salient_phrase(text, fi.stopwords)
    assert phrase in ("Aamu sujui", "Iltapäivä venyi")


def test_phrase_skips_already_echoed_and_stop_words(fi: PromptSet) -> None:
    text = "Esihenkilö kiitti minua palaverissa"
    first = salient_phrase(text, fi.stopwords)
    assert first == "Esihenkilö kiitti minua palaverissa"
    second = salient_phrase(text, fi.stopwords, exclude=[first.lower()])
    assert second is not None and second != first and second in text
    assert salient_phrase("ja se oli niin", fi.stopwords) is None
    assert salient_phrase("", fi.stopwords) is None


def test_single_function_words_glue_a_phrase_but_two_break_it(fi: PromptSet) -> None:
    assert salient_phrase("Tuntui että kukaan ei kuunnellut", fi.stopwords) == (
        "Tuntui että kukaan ei kuunnellut"
    )
    text = "Palaveri venyi ja se oli raskas"
    assert salient_phrase(text, fi.stopwords) == "Palaveri venyi"


def test_phrase_is_bounded(fi: PromptSet) -> None:
    text = "Uusi toimintamalli hämmentää asiakkaita työkavereita esihenkilöitä johtoa"
    phrase = salient_phrase(text, fi.stopwords)
    assert phrase is not None and len(phrase.split()) <= MAX_WORDS


def test_cues(fi: PromptSet) -> None:
    assert detect_cue("Olen aivan uupunut", fi.cues) == "heavy"
    assert detect_cue("Projekti onnistui hienosti", fi.cues) == "success"
    assert detect_cue("Kävin kaupassa", fi.cues) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7", 7),
        ("ehkä 6", 6),
        ("10/10", 10),
        ("0", 0),
        ("6,5", 6),
        ("en tiedä", None),
        ("11", None),
        ("100", None),
    ],
)
def test_find_scale(text: str, value: int | None) -> None:
    assert find_scale(text) == value
