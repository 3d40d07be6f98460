"""The safety layer: which words call for help, what is offered, and how the worker goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.dialogue import Answer, Continue, Engine, Enough, Skip
from bot.prompts import PromptError, PromptSet
from bot.safety import SAFETY_FILE, Safety, load_safety
from tests.conftest import PROMPTS_DIR

SAFETY = load_safety(PROMPTS_DIR / SAFETY_FILE)

CRISIS = [
    # Finnish
    "En halua enää elää.",
    "Olen miettinyt itsemurhaa viime viikkoina.",
    "Tekisi mieli satuttaa itseäni.",
    "Haluaisin vain kuolla pois tästä kaikesta.",
    "Välillä tuntuu, että kaikki olisi parempi ilman minua.",
    "Ajattelin, että haluan lopettaa kaiken.",
    "Elämä ei ole enää elämisen arvoista.",
    "Olen alkanut taas viillellä.",
    # Swedish
    "Jag vill inte leva längre.",
    "Jag har tänkt på självmord.",
    "Ibland vill jag skada mig själv.",
    "Alla skulle ha det bättre utan mig.",
    # English
    "Some days I want to die.",
    "I have thought about killing myself.",
    "I don't want to live anymore.",
    "I keep hurting myself when it gets bad.",
    "Life isn't worth living right now.",
]

NEAR_MISSES = [
    "Olen tosi väsynyt ja kuormittunut.",
    "Työ tappaa minut tällä menolla, niin paljon on kiirettä.",
    "Olen kuolemanväsynyt tähän projektiin.",
    "Haluan lopettaa kaiken ylimääräisen palaverien jälkeen.",
    "Tapoimme aikaa odotellessa asiakasta.",
    "Päätän päivän yleensä kävelyyn.",
    "Jag är så trött på allt pappersarbete.",
    "I'm dead tired after this week.",
    "This deadline is killing me.",
    "I cut my hours to four days a week.",
]


@pytest.mark.parametrize("text", CRISIS)
def test_distress_is_recognised(text: str) -> None:
    assert SAFETY.matches(text)


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_ordinary_strain_is_not_a_crisis(text: str) -> None:
    assert not SAFETY.matches(text)


def test_help_lines_carry_a_verification_date() -> None:
    assert SAFETY.lines["crisis_line_fi"].number == "09 2525 0111"
    assert SAFETY.lines["crisis_line_sv"].number == "09 2525 0112"
    assert SAFETY.lines["crisis_line_en"].number == "09 2525 0116"
    assert SAFETY.lines["emergency"].number == "112"
    for line in SAFETY.lines.values():
        assert line.last_verified.year >= 2026


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_message_in_each_language_offers_all_help(
    prompt_sets: dict[str, PromptSet], language: str
) -> None:
    message = SAFETY.message(prompt_sets[language])
    assert SAFETY.crisis_line(language).number in message
    assert "112" in message
    if language != "fi":
        assert "09 2525 0111" in message  # the 24/7 Finnish line too


def test_broken_safety_file_names_the_key_path(tmp_path: Path) -> None:
    data = yaml.safe_load((PROMPTS_DIR / SAFETY_FILE).read_text(encoding="utf-8"))
    data["patterns"]["sv"][1] = "(oavslutad"
    del data["help"]["emergency"]["last_verified"]
    path = tmp_path / SAFETY_FILE
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PromptError) as caught:
        load_safety(path)
    text = "\n".join(caught.value.problems)
    assert "patterns.sv[1]" in text and "help.emergency.last_verified" in text


def engine(fi: PromptSet, safety: Safety = SAFETY) -> Engine:
    return Engine(fi, safety)


def test_safety_message_comes_before_any_next_question(fi: PromptSet) -> None:
    e = engine(fi)
    step = e.handle(e.start(seed=1).state, Answer("En jaksa enää elää tämän työn kanssa."))
    assert step.alert and step.record is not None  # the answer is still stored
    assert step.record.answer == "En jaksa enää elää tämän työn kanssa."
    (turn,) = step.turns
    assert "09 2525 0111" in turn.text and "112" in turn.text
    assert [b.action for row in turn.buttons for b in row] == ["contact", "go", "enough"]
    go_on = e.handle(step.state, Continue())
    assert not go_on.state.held
    assert go_on.turns[0].text == step.state.pending.text  # type: ignore[union-attr]


def test_writing_after_the_message_is_kept_and_not_repeated(fi: PromptSet) -> None:
    e = engine(fi)
    step = e.handle(e.start(seed=1).state, Answer("Haluan kuolla."))
    after = e.handle(step.state, Answer("Haluan kuolla, mutta soitan ensin ystävälle."))
    assert after.record is not None and after.record.continued
    assert not after.alert and not after.state.held  # offered once per reflection
    assert after.turns[0].text == step.state.pending.text  # type: ignore[union-attr]


def test_stopping_from_the_safety_message(fi: PromptSet) -> None:
    e = engine(fi)
    step = e.handle(e.start(seed=1).state, Answer("I want to die."))
    stop = e.handle(step.state, Enough())
    assert stop.state.pending is not None and stop.state.pending.stage == "closing"
    assert not e.handle(step.state, Skip()).accepted  # only the offered buttons count


def test_no_message_for_ordinary_tiredness(fi: PromptSet) -> None:
    e = engine(fi)
    step = e.handle(e.start(seed=1).state, Answer("Olen väsynyt, mutta pärjään."))
    assert not step.alert and not step.state.held
