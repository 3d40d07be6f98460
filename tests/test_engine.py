"""The pure dialogue engine, driven by scripted workers."""

from __future__ import annotations

import re

import pytest

from bot.dialogue import (
    PLAN,
    Answer,
    ChooseScale,
    ChooseTheme,
    Engine,
    Enough,
    More,
    Skip,
    State,
    Step,
    parse_action,
)
from bot.prompts import PromptSet

QUOTE = re.compile(r'"([^"]+)"')


def actions(step: Step) -> list[str]:
    return [b.action for turn in step.turns for row in turn.buttons for b in row]


def question(step: Step) -> str:
    return step.turns[-1].text


def test_opening_is_open_invitation_with_theme_doors(fi: PromptSet) -> None:
    step = Engine(fi).start(seed=1)
    assert step.state.pending is not None and step.state.pending.stage == "opening"
    assert [a for a in actions(step)] == [f"t:{t.key}" for t in fi.themes]
    assert len(fi.themes) == 8


def test_echo_quotes_the_workers_exact_phrase(fi: PromptSet) -> None:
    engine = Engine(fi)
    answer = "Palaverissa tuli kiire ja tunsin itseni ulkopuoliseksi."
    step = engine.handle(engine.start(seed=3).state, Answer(answer))
    assert step.state.pending is not None and step.state.pending.stage == "echo"
    quoted = QUOTE.findall(question(step))
    assert len(quoted) == 1 and quoted[0] in answer
    assert step.record is not None and step.record.answer == answer
    assert step.record.stage == "opening"


def test_scripted_reflection_never_repeats_and_records_everything(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.start(seed=11)
    answers = [
        "Asiakastapaaminen jännitti etukäteen, mutta se meni lopulta hyvin.",
        "Valmistauduin huolellisesti ja pyysin työparin mukaan.",
        "Työpari rauhoitti tilannetta omalla tyylillään.",
        "Tiedän nyt, mistä aloittaa.",
        "Kirjoittaisin muistiin, mikä auttoi.",
        "Asiakas sanoisi, että häntä kuunneltiin.",
        "Kuunteleminen auttaa minuakin.",
        "Voin pyytää työparia useammin.",
        "Otan mukaan sen, että valmistautuminen kannatti.",
        "Lisää vielä yksi ajatus.",
        "Ja toinen.",
    ]
    shown: list[str] = [step.state.pending.question_id]  # type: ignore[union-attr]
    records = 0
    for answer in answers:
        if step.state.finished:
            break
        if step.state.pending is not None and step.state.pending.stage == "scaling":
            answer = "Sanoisin 7."
        step = engine.handle(step.state, Answer(answer))
        records += step.record is not None
        if step.state.pending is not None:
            shown.append(step.state.pending.question_id)
    assert step.state.finished
    assert len(shown) == len(set(shown)), shown
    assert records == len(shown)
    stages = [fi.question(q).stage for q in shown if fi.question(q)]  # type: ignore[union-attr]
    assert stages[0] == "opening" and stages[-1] == "closing"
    for expected in ("resources", "scaling", "scaling_followup", "scaling_step", "agency"):
        assert expected in stages


def test_scaling_follow_ups_carry_the_number(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=5).state, Answer("ok"))
    # walk to the scaling question by skipping
    while step.state.pending is not None and step.state.pending.stage != "scaling":
        step = engine.handle(step.state, Skip())
    assert [a for a in actions(step) if a.startswith("s:")] == [f"s:{n}" for n in range(11)]
    scaled = engine.handle(step.state, ChooseScale(6))
    assert scaled.record is not None and scaled.record.scale == 6
    text = question(scaled)
    assert "6" in text and "5" in text, text
    step_up = engine.handle(scaled.state, Answer("Työkaverit tukevat."))
    assert "7" in question(step_up)


@pytest.mark.parametrize(
    ("value", "stage_after", "next_stage"),
    [(0, "scaling_zero", "scaling_step"), (10, "scaling_followup", "scaling_top")],
)
def test_scaling_edges(fi: PromptSet, value: int, stage_after: str, next_stage: str) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=5).state, Answer("ok"))
    while step.state.pending is not None and step.state.pending.stage != "scaling":
        step = engine.handle(step.state, Skip())
    step = engine.handle(step.state, Answer(f"Ehkä {value}"))
    assert step.record is not None and step.record.scale == value
    assert step.state.pending is not None and step.state.pending.stage == stage_after
    assert "-1" not in question(step)
    step = engine.handle(step.state, Answer("jotain"))
    assert step.state.pending is not None and step.state.pending.stage == next_stage
    assert "11" not in question(step)


def test_skip_moves_on_without_recording(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=2).state, Answer("Tänään oli raskas päivä."))
    before = step.state.pending
    skipped = engine.handle(step.state, Skip())
    assert skipped.record is None
    assert skipped.state.pending is not None and skipped.state.pending != before
    assert skipped.state.turn == step.state.turn + 1


def test_more_continues_the_previous_answer_then_moves_on(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=4).state, Answer("Tiimin kanssa sujui hyvin."))
    previous = step.state.last_answered
    more = engine.handle(step.state, More())
    assert more.record is None
    assert more.turns[0].text == fi.text("more_invitation")
    assert actions(more) == ["enough"]
    added = engine.handle(more.state, Answer("Ja asiakaskin kiitti."))
    assert added.record is not None and added.record.continued
    assert previous is not None and added.record.question_id == previous.question_id
    assert added.state.pending is not None
    assert added.state.pending.question_id != step.state.pending.question_id  # type: ignore[union-attr]


def test_enough_offers_one_closing_question_then_ends(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=8).state, Answer("Paljon mietittävää."))
    enough = engine.handle(step.state, Enough())
    assert enough.state.pending is not None and enough.state.pending.stage == "closing"
    assert enough.turns[0].text == fi.text("closing_enough")
    assert actions(enough) == ["skip"]
    done = engine.handle(enough.state, Skip())
    assert done.state.finished and done.record is None
    assert actions(done) == ["share", "contact", "new"]


def test_enough_before_any_answer_just_ends(fi: PromptSet) -> None:
    engine = Engine(fi)
    done = engine.handle(engine.start(seed=8).state, Enough())
    assert done.state.finished


def test_theme_door_sets_theme_and_its_invitation(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=1).state, ChooseTheme("onnistuminen"))
    assert step.state.theme == "onnistuminen"
    assert question(step) == fi.theme("onnistuminen").invitation  # type: ignore[union-attr]
    again = engine.handle(step.state, ChooseTheme("muu"))
    assert not again.accepted and again.state == step.state


def test_inputs_that_do_not_fit_are_refused_unchanged(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=1).state, Answer("Hyvä päivä."))
    refused = engine.handle(step.state, ChooseScale(5))
    assert not refused.accepted and refused.state == step.state
    assert engine.handle(step.state, ChooseTheme("nope")).state == step.state
    finished = engine.handle(step.state, Enough())
    finished = engine.handle(finished.state, Enough())
    assert finished.state.finished
    assert not engine.handle(finished.state, Answer("lisää")).accepted


def test_same_seed_same_conversation(fi: PromptSet) -> None:
    engine = Engine(fi)
    runs = []
    for _ in range(2):
        step = engine.start(seed=42)
        texts = [question(step)]
        for answer in ("Työ on ollut kuormittavaa.", "Tauot auttavat.", "4"):
            step = engine.handle(step.state, Answer(answer))
            texts.append(question(step))
        runs.append(texts)
    assert runs[0] == runs[1]


def test_state_survives_json(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.handle(engine.start(seed=9).state, Answer("Uusi projekti innostaa."))
    step = engine.handle(step.state, More())
    assert State.from_json(step.state.to_json()) == step.state


def test_plan_covers_the_method() -> None:
    for stage in ("echo", "resources", "scaling", "perspectives", "agency", "closing"):
        assert stage in PLAN


@pytest.mark.parametrize("action", ["", "s:11", "s:-1", "t:", "t:x y", "delete", "s:5x"])
def test_forged_actions_are_not_events(action: str) -> None:
    assert parse_action(action) is None


def test_no_question_text_asks_why_or_advises(prompt_sets: dict[str, PromptSet]) -> None:
    for ps in prompt_sets.values():
        for questions in ps.stages.values():
            for q in questions:
                lowered = q.text.lower()
                assert not any(word in lowered for word in ps.style_guard), (ps.language, q.id)


def test_anticipation_asks_in_order_and_ends_with_closing(fi: PromptSet) -> None:
    engine = Engine(fi)
    step = engine.start(seed=3, kind="future")
    assert step.state.pending is not None and step.state.pending.question_id == "future-good"
    assert actions(step)[0] == "skip"  # no theme doors here
    stages = []
    for answer in (
        "Tiimi toimii ja minulla on aikaa asiakkaille.",
        "Sanoin ajoissa ei.",
        "Esihenkilö ja työnohjaus.",
        "Ensimmäinen vapaa iltapäivä.",
        "Toivoa.",
        "Otan mukaan toivon.",
    ):
        if step.state.finished:
            break
        stages.append(step.state.pending.stage)  # type: ignore[union-attr]
        step = engine.handle(step.state, Answer(answer))
    assert step.state.finished
    assert [s for s in stages if s == "future"] == ["future"] * 4
    ids = [q for q in step.state.asked if q.startswith("future")]
    assert ids == ["future-good", "future-did", "future-helped", "future-first-sign"]


def test_anticipation_review_opens_with_the_comparison(fi: PromptSet) -> None:
    step = Engine(fi).start(seed=3, kind="future", review=True)
    assert step.state.pending is not None and step.state.pending.stage == "future_review"
    step = Engine(fi).handle(step.state, Answer("Puolet on jo totta."))
    assert step.state.pending is not None
    assert step.state.pending.question_id in (
        "echo-1",
        "echo-2",
        "echo-3",
        "echo-4",
        "echo-5",
        "echo-6",
        "future-good",
    )
