"""The pure reflection engine: (state, worker input) -> (new state, bot turns). No I/O."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.echo import detect_cue, find_scale, salient_phrase
from bot.prompts import PromptSet, Question
from bot.safety import Safety

# The order of stages after the opening; an echo is used only when the last answer offers
# a phrase of the worker's own that has not been echoed yet.
PLAN = ("echo", "resources", "echo", "scaling", "perspectives", "echo", "agency", "closing")
# The anticipation exercise: a year ahead, things are fairly good; asked in the file's order.
FUTURE_PLAN = ("future", "echo", "future", "future", "future", "closing")
PLANS = {"free": PLAN, "future": FUTURE_PLAN}
ORDERED_STAGES = frozenset({"future", "future_review"})
SCALE_VALUES = range(11)
THEME_QUESTION_PREFIX = "theme-"


@dataclass(frozen=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True)
class Turn:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class Pending:
    """A question that has been put to the worker, as they saw it."""

    question_id: str
    stage: str
    text: str


@dataclass(frozen=True)
class State:
    seed: int
    kind: str = "free"
    turn: int = 0
    plan_pos: int = 0
    queue: tuple[str, ...] = ()
    pending: Pending | None = None
    more_target: Pending | None = None
    last_answered: Pending | None = None
    asked: tuple[str, ...] = ()
    echoed: tuple[str, ...] = ()
    theme: str | None = None
    scale: int | None = None
    closing: bool = False
    finished: bool = False
    held: bool = False  # the safety message is on screen; the next question waits
    safety_shown: bool = False

    def to_json(self) -> str:
        # The same JSON as json.dumps(asdict(self)) gives, without asdict's deep copies.
        data: dict[str, Any] = {}
        for name in _STATE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, Pending):
                value = {key: getattr(value, key) for key in _PENDING_FIELDS}
            data[name] = value
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> State:
        data: dict[str, Any] = json.loads(raw)
        if data.get("kind", "free") not in PLANS:
            raise ValueError("unknown reflection kind")
        for key in ("pending", "more_target", "last_answered"):
            if data.get(key) is not None:
                data[key] = Pending(**data[key])
        for key in ("queue", "asked", "echoed"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)


_STATE_FIELDS = tuple(f.name for f in fields(State))
_PENDING_FIELDS = tuple(f.name for f in fields(Pending))


# Worker inputs
@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class ChooseTheme:
    key: str


@dataclass(frozen=True)
class ChooseScale:
    value: int


@dataclass(frozen=True)
class Skip:
    pass


@dataclass(frozen=True)
class More:
    pass


@dataclass(frozen=True)
class Enough:
    pass


@dataclass(frozen=True)
class Continue:
    """Go on after the safety message."""


Event = Answer | ChooseTheme | ChooseScale | Skip | More | Enough | Continue


@dataclass(frozen=True)
class Record:
    """An answer to store: the question exactly as shown and the worker's words."""

    question_id: str
    stage: str
    question: str
    answer: str
    scale: int | None = None
    continued: bool = False


@dataclass(frozen=True)
class Step:
    state: State
    turns: tuple[Turn, ...]
    record: Record | None = None
    accepted: bool = True
    alert: bool = False  # the safety message was shown


def parse_action(action: str) -> Event | None:
    """Turn a button action back into an event; None for anything malformed."""
    if action == "skip":
        return Skip()
    if action == "more":
        return More()
    if action == "enough":
        return Enough()
    if action == "go":
        return Continue()
    kind, _, value = action.partition(":")
    if kind == "t" and value.isascii() and value.isidentifier():
        return ChooseTheme(value)
    if kind == "s" and value.isdigit() and int(value) in SCALE_VALUES:
        return ChooseScale(int(value))
    return None


class Engine:
    """Chooses each next question from the stage plan and the worker's own last words."""

    def __init__(self, prompts: PromptSet, safety: Safety | None = None) -> None:
        self.prompts = prompts
        self.safety = safety

    # --- buttons -------------------------------------------------------------------------
    def _pace(self, stage: str) -> tuple[tuple[Button, ...], ...]:
        b = self.prompts.buttons
        if stage == "closing":
            return ((Button(b["skip"], "skip"),),)
        return (
            (Button(b["skip"], "skip"), Button(b["enough"], "enough")),
            (Button(b["more"], "more"),),
        )

    def _buttons(self, state: State) -> tuple[tuple[Button, ...], ...]:
        pending = state.pending
        if pending is None:
            return ()
        if state.more_target is not None:
            return ((Button(self.prompts.buttons["enough"], "enough"),),)
        if self._doors_open(state):
            themes = [Button(t.label, f"t:{t.key}") for t in self.prompts.themes]
            return tuple(tuple(themes[i : i + 2]) for i in range(0, len(themes), 2))
        if pending.stage == "scaling":
            low = tuple(Button(str(n), f"s:{n}") for n in range(6))
            high = tuple(Button(str(n), f"s:{n}") for n in range(6, 11))
            return (low, high, *self._pace(pending.stage))
        return self._pace(pending.stage)

    def _safety_turn(self, *, can_continue: bool) -> Turn:
        assert self.safety is not None
        b = self.prompts.buttons
        rows: tuple[tuple[Button, ...], ...] = ((Button(b["contact"], "contact"),),)
        if can_continue:
            rows += ((Button(b["continue"], "go"),), (Button(b["enough"], "enough"),))
        return Turn(self.safety.message(self.prompts), rows)

    @staticmethod
    def _doors_open(state: State) -> bool:
        """Theme doors show on a free reflection's first question until something is chosen."""
        pending = state.pending
        return (
            state.kind == "free"
            and pending is not None
            and pending.stage == "opening"
            and state.theme is None
            and not state.asked[1:]
        )

    def current_turns(self, state: State) -> tuple[Turn, ...]:
        """What the worker should see now: the open question with its buttons."""
        if state.finished or state.pending is None:
            return (self._finished_turn(),)
        if state.held and self.safety is not None:
            return (self._safety_turn(can_continue=True),)
        if state.more_target is not None:
            return (Turn(self.prompts.text("more_invitation"), self._buttons(state)),)
        text = state.pending.text
        if self._doors_open(state):
            text = f"{text}\n\n{self.prompts.text('opening_hint')}"
        return (Turn(text, self._buttons(state)),)

    def _finished_turn(self) -> Turn:
        b = self.prompts.buttons
        return Turn(
            self.prompts.text("finished"),
            (
                (Button(b["share"], "share"),),
                (Button(b["contact"], "contact"),),
                (Button(b["new"], "new"),),
            ),
        )

    # --- choosing questions --------------------------------------------------------------
    def _rng(self, state: State, stage: str) -> random.Random:
        return random.Random(f"{state.seed}:{state.turn}:{stage}")  # noqa: S311 - not security

    def _pick(self, state: State, stage: str, last: str | None) -> tuple[State, Pending] | None:
        fresh = [q for q in self.prompts.stages[stage] if q.id not in state.asked]
        if not fresh:
            return None
        values: dict[str, str] = {}
        echoed = state.echoed
        if stage == "echo":
            if not last:
                return None
            stems = [s for stems in self.prompts.cues.values() for s in stems]
            phrase = salient_phrase(last, self.prompts.stopwords, stems, state.echoed)
            if phrase is None:
                return None
            values["phrase"] = phrase
            echoed = (*echoed, phrase.lower())
        elif stage == "resources":
            fresh = self._by_cue(fresh, detect_cue(last or "", self.prompts.cues))
        elif stage in ("scaling_followup", "scaling_step"):
            n = state.scale if state.scale is not None else 0
            values.update(n=str(n), below=str(n - 1), above=str(n + 1))
        ordered = stage in ORDERED_STAGES
        question = fresh[0] if ordered else self._rng(state, stage).choice(fresh)
        pending = Pending(question.id, stage, question.text.format(**values))
        return replace(state, echoed=echoed), pending

    @staticmethod
    def _by_cue(questions: list[Question], cue: str | None) -> list[Question]:
        matching = [q for q in questions if cue is not None and q.cue == cue]
        general = [q for q in questions if q.cue is None]
        return matching or general or questions

    def _advance(self, state: State, last: str | None) -> Step:
        """Put the next question, or finish when the plan is done."""
        while True:
            if state.queue:
                stage, state = state.queue[0], replace(state, queue=state.queue[1:])
            elif state.plan_pos < len(PLANS[state.kind]):
                stage = PLANS[state.kind][state.plan_pos]
                state = replace(state, plan_pos=state.plan_pos + 1)
            else:
                return self._finish(state)
            picked = self._pick(state, stage, last)
            if picked is not None:
                state, pending = picked
                state = replace(
                    state,
                    pending=pending,
                    asked=(*state.asked, pending.question_id),
                    turn=state.turn + 1,
                )
                return Step(state, self.current_turns(state))

    def _finish(self, state: State) -> Step:
        state = replace(state, pending=None, more_target=None, finished=True, turn=state.turn + 1)
        return Step(state, (self._finished_turn(),))

    # --- public --------------------------------------------------------------------------
    def start(self, seed: int, kind: str = "free", *, review: bool = False) -> Step:
        """Open a reflection: an open invitation with theme doors, or the anticipation exercise.

        With `review`, the anticipation exercise first asks about an earlier one just shown.
        """
        if kind == "future":
            state = State(seed=seed, kind=kind)
            stage = "future_review" if review else "future"
            question = self.prompts.stages[stage][0]
            if not review:
                state = replace(state, plan_pos=1)  # the first "future" step is this one
        else:
            state = State(seed=seed)
            stage = "opening"
            question = self._rng(state, stage).choice(self.prompts.stages["opening"])
        pending = Pending(question.id, stage, question.text)
        state = replace(state, pending=pending, asked=(question.id,), turn=1)
        return Step(state, self.current_turns(state))

    def handle(self, state: State, event: Event) -> Step:
        """Apply one worker input. Inputs that do not fit the moment are refused unchanged."""
        pending = state.pending
        if state.finished or pending is None:
            return self._refuse(state)
        if state.held:
            return self._after_hold(state, event)
        if isinstance(event, Continue):
            return self._refuse(state)
        if isinstance(event, Answer):
            return self._guard(self._answer(state, pending, event.text.strip(), None), event.text)
        if isinstance(event, ChooseScale):
            if pending.stage != "scaling" or state.more_target is not None:
                return self._refuse(state)
            return self._answer(state, pending, str(event.value), event.value)
        if isinstance(event, ChooseTheme):
            return self._theme(state, pending, event.key)
        if isinstance(event, Skip):
            if pending.stage == "closing" or state.closing:
                return self._finish(state)
            return self._advance(replace(state, more_target=None), None)
        if isinstance(event, More):
            if state.more_target is not None:
                return self._refuse(state)
            target = state.last_answered or pending
            # The question just put goes back to the plan: its stage is offered again later,
            # with a question not asked yet.
            queue = state.queue if target is pending else (pending.stage, *state.queue)
            state = replace(state, more_target=target, queue=queue, turn=state.turn + 1)
            return Step(state, self.current_turns(state))
        return self._enough(state, pending)

    def _guard(self, step: Step, text: str) -> Step:
        """Put the safety message before anything else when the words call for it."""
        if (
            self.safety is None
            or step.state.safety_shown
            or not step.accepted
            or not self.safety.matches(text)
        ):
            return step
        if step.state.finished:
            state = replace(step.state, safety_shown=True)
            return replace(
                step,
                state=state,
                alert=True,
                turns=(self._safety_turn(can_continue=False), *step.turns),
            )
        state = replace(step.state, held=True, safety_shown=True)
        return replace(
            step, state=state, alert=True, turns=(self._safety_turn(can_continue=True),)
        )

    def _after_hold(self, state: State, event: Event) -> Step:
        """After the safety message: go on, stop, or keep writing (kept with the last answer)."""
        resumed = replace(state, held=False, turn=state.turn + 1)
        if isinstance(event, Continue):
            return Step(resumed, self.current_turns(resumed))
        if isinstance(event, Enough) and resumed.pending is not None:
            return self._enough(resumed, resumed.pending)
        if isinstance(event, Answer) and event.text.strip():
            target = resumed.last_answered or resumed.pending
            assert target is not None
            record = Record(
                target.question_id, target.stage, target.text, event.text.strip(), continued=True
            )
            return Step(resumed, self.current_turns(resumed), record=record)
        return self._refuse(state)

    def _refuse(self, state: State) -> Step:
        return Step(state, (Turn(self.prompts.text("stale_button")),), accepted=False)

    def _theme(self, state: State, pending: Pending, key: str) -> Step:
        theme = self.prompts.theme(key)
        if theme is None or pending.stage != "opening" or state.theme is not None:
            return self._refuse(state)
        pending = Pending(f"{THEME_QUESTION_PREFIX}{key}", "opening", theme.invitation)
        state = replace(state, theme=key, pending=pending, turn=state.turn + 1)
        return Step(state, self.current_turns(state))

    def _answer(self, state: State, pending: Pending, text: str, scale: int | None) -> Step:
        if not text:
            return Step(state, self.current_turns(state), accepted=False)
        target = state.more_target
        if target is not None:
            record = Record(
                target.question_id,
                target.stage,
                target.text,
                text,
                continued=target is not pending,
            )
            state = replace(state, more_target=None, last_answered=target)
            if target is pending:
                return self._after_answer(state, pending, record, text)
            return self._continue(state, record, text)
        if pending.stage == "scaling":
            scale = scale if scale is not None else find_scale(text)
            if scale is not None:
                follow = "scaling_zero" if scale == 0 else "scaling_followup"
                step = "scaling_top" if scale == 10 else "scaling_step"
                state = replace(state, scale=scale, queue=(follow, step, *state.queue))
        record = Record(pending.question_id, pending.stage, pending.text, text, scale=scale)
        return self._after_answer(replace(state, last_answered=pending), pending, record, text)

    def _after_answer(self, state: State, pending: Pending, record: Record, text: str) -> Step:
        if pending.stage == "closing" or state.closing:
            step = self._finish(state)
            return replace(step, record=record)
        return self._continue(state, record, text)

    def _continue(self, state: State, record: Record, text: str) -> Step:
        step = self._advance(state, text)
        return replace(step, record=record)

    def _enough(self, state: State, pending: Pending) -> Step:
        if pending.stage == "closing" or state.closing or state.last_answered is None:
            return self._finish(state)
        state = replace(
            state, queue=(), plan_pos=len(PLANS[state.kind]), more_target=None, closing=True
        )
        picked = self._pick(state, "closing", None)
        if picked is None:
            return self._finish(state)
        state, question = picked
        state = replace(
            state,
            pending=question,
            asked=(*state.asked, question.question_id),
            turn=state.turn + 1,
        )
        intro = Turn(self.prompts.text("closing_enough"))
        return Step(state, (intro, *self.current_turns(state)))
