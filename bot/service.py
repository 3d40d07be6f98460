"""Reflection use cases: load state, run the engine, commit the answer, say what to send next.

Knows neither Telegram nor SQL: the adapter calls this, this calls the engine and storage.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from bot import resources
from bot.dialogue import Answer, Engine, Event, Record, State, Step, Turn, parse_action
from bot.echo import detect_cue
from bot.prompts import PromptSet
from bot.safety import Safety
from bot.storage import NewEntry, Reflection, Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """Turns to send; reflection id and turn number let buttons point at this very moment."""

    turns: tuple[Turn, ...]
    reflection_id: int | None = None
    turn: int = 0
    duplicate: bool = False


@dataclass(frozen=True)
class Press:
    """Outcome of a dialogue button: whether it counted, and what follows."""

    accepted: bool
    reply: Reply
    chosen: str | None = None  # the label the worker picked, shown on the old message


def entry_from(record: Record | None) -> NewEntry | None:
    """The engine's record of an answer as the row storage keeps."""
    if record is None:
        return None
    return NewEntry(
        record.question_id,
        record.stage,
        record.question,
        record.answer,
        record.scale,
        record.continued,
    )


def _status(state: State) -> str:
    return "finished" if state.finished else "active"


class ReflectionService:
    def __init__(
        self,
        storage: Storage,
        prompts: Mapping[str, PromptSet],
        default_language: str,
        seeds: Callable[[], int] = lambda: secrets.randbelow(2**31),
        safety: Safety | None = None,
    ) -> None:
        self.storage = storage
        self.prompts = prompts
        self.default_language = default_language if default_language in prompts else "fi"
        self._engines = {lang: Engine(ps, safety) for lang, ps in prompts.items()}
        self._seeds = seeds
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._languages: dict[int, str] = {}
        self._blocked: set[int] | None = None  # loaded on first use

    # --- languages -----------------------------------------------------------------------
    def pick_language(self, telegram_code: str | None) -> str:
        """The prompt language for a Telegram language code (e.g. 'sv-FI' -> 'sv')."""
        code = (telegram_code or "").split("-")[0].lower()
        return code if code in self.prompts else self.default_language

    async def language(self, user_id: int, telegram_code: str | None) -> str:
        """The user's language, registering the user on first contact."""
        known = self._languages.get(user_id)
        if known is None:
            stored = await self.storage.ensure_user(user_id, self.pick_language(telegram_code))
            known = stored if stored in self.prompts else self.default_language
            self._languages[user_id] = known
        return known

    async def set_language(self, user_id: int, language: str) -> str:
        """Switch the user's language (registering them if needed); returns the one in use."""
        if language not in self.prompts:
            language = self.default_language
        await self.language(user_id, language)
        await self.storage.set_language(user_id, language)
        self._languages[user_id] = language
        return language

    async def _blocked_set(self) -> set[int]:
        if self._blocked is None:
            self._blocked = await self.storage.blocked_users()
        return self._blocked

    async def mark_blocked(self, user_id: int) -> None:
        """Telegram said 403: the user blocked the bot. Remember it until they write again."""
        blocked = await self._blocked_set()
        if user_id not in blocked and await self.registered(user_id):
            await self.storage.set_blocked(user_id, True)
            blocked.add(user_id)

    async def is_blocked(self, user_id: int) -> bool:
        return user_id in await self._blocked_set()

    async def seen(self, user_id: int) -> None:
        """The user wrote or pressed something, so they have not blocked the bot."""
        blocked = await self._blocked_set()
        if user_id in blocked:
            await self.storage.set_blocked(user_id, False)
            blocked.discard(user_id)

    async def registered(self, user_id: int) -> bool:
        return user_id in self._languages or await self.storage.is_user(user_id)

    async def erase(self, user_id: int) -> bool:
        """Erase everything of the user, their key included; they start fresh next time."""
        async with self._user(user_id):
            erased = await self.storage.erase_user(user_id)
            self._languages.pop(user_id, None)
            return erased

    def texts(self, language: str) -> PromptSet:
        return self.prompts.get(language) or self.prompts[self.default_language]

    def _engine(self, language: str) -> Engine:
        return self._engines.get(language) or self._engines[self.default_language]

    # --- per-user ordering ---------------------------------------------------------------
    @asynccontextmanager
    async def _user(self, user_id: int) -> AsyncIterator[None]:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        async with lock:
            try:
                yield
            except Exception:
                # a failed write may have undone the user's registration (its commit is not
                # waited for): ask storage again next time instead of trusting the cache
                self._languages.pop(user_id, None)
                raise

    async def _active(self, user_id: int) -> tuple[Reflection, State] | None:
        reflection = await self.storage.active_reflection(user_id)
        if reflection is None:
            return None
        try:
            return reflection, State.from_json(reflection.state)
        except (ValueError, TypeError, KeyError):
            log.warning("state_unreadable reflection=%s", reflection.id)
            await self.storage.cancel_active(user_id)
            return None

    # --- use cases -----------------------------------------------------------------------
    async def has_active(self, user_id: int) -> bool:
        return await self._active(user_id) is not None

    async def current(self, user_id: int, language: str) -> Reply | None:
        """The open question of the active reflection, to show again."""
        active = await self._active(user_id)
        if active is None:
            return None
        reflection, state = active
        return Reply(self._engine(language).current_turns(state), reflection.id, state.turn)

    async def _showing(self, user_id: int, language: str) -> Reply:
        """What the worker should see now: the open question, or the end of the last one."""
        current = await self.current(user_id, language)
        if current is not None:
            return current
        latest = await self.storage.latest_reflection(user_id)
        if latest is None or latest.status != "finished":
            return Reply(())
        state = State.from_json(latest.state)
        return Reply(self._engine(language).current_turns(state), latest.id, state.turn)

    async def begin(
        self,
        user_id: int,
        language: str,
        update_id: int | None,
        kind: str = "free",
        *,
        review: bool = False,
    ) -> Reply:
        """Start a new reflection (ending an active one) with its opening question."""
        async with self._user(user_id):
            step = self._engine(language).start(self._seeds(), kind, review=review)
            return await self._store_new(user_id, language, update_id, step)

    async def text(self, user_id: int, language: str, update_id: int | None, text: str) -> Reply:
        """A worker's message: the answer to the open question, or the start of a reflection."""
        async with self._user(user_id):
            engine = self._engine(language)
            active = await self._active(user_id)
            if active is None:
                opened = engine.start(self._seeds())
                step = engine.handle(opened.state, Answer(text))
                reply = await self._store_new(user_id, language, update_id, step)
                return await self._with_resource(user_id, language, text, step, reply)
            reflection, state = active
            return await self._apply(user_id, language, update_id, reflection, state, Answer(text))

    async def press(
        self,
        user_id: int,
        language: str,
        update_id: int | None,
        reflection_id: int,
        turn: int,
        action: str,
    ) -> Press:
        """A dialogue button; refused unless it belongs to the open question of this user."""
        async with self._user(user_id):
            if update_id is not None and await self.storage.update_handled(update_id):
                # the same press delivered again (after a crash): show where things stand
                log.info("duplicate_update update=%s", update_id)
                current = await self._showing(user_id, language)
                return Press(False, replace(current, duplicate=True))
            active = await self._active(user_id)
            event = parse_action(action)
            if active is None or event is None:
                return Press(False, Reply(()))
            reflection, state = active
            if reflection.id != reflection_id or state.turn != turn:
                return Press(False, Reply(()))
            reply = await self._apply(user_id, language, update_id, reflection, state, event)
            if not reply.turns or reply.turn == state.turn:
                return Press(False, reply)
            return Press(True, reply, self._label(language, action))

    async def cancel(self, user_id: int) -> Reflection | None:
        async with self._user(user_id):
            return await self.storage.cancel_active(user_id)

    async def delete(self, user_id: int, reflection_id: int) -> bool:
        async with self._user(user_id):
            return await self.storage.delete_reflection(user_id, reflection_id)

    async def resource_sentence(
        self,
        user_id: int,
        seed: int,
        avoid: str | None = None,
        exclude_reflection: int | None = None,
    ) -> str | None:
        """One of the worker's own earlier sentences about what helped, exactly as written."""
        answers = await self.storage.resource_answers(
            user_id, resources.RESOURCE_STAGES, exclude_reflection
        )
        return resources.pick(resources.sentences(answers), seed, avoid)

    async def _with_resource(
        self, user_id: int, language: str, text: str, step: Step, reply: Reply
    ) -> Reply:
        """With consent, a reflection that opens heavy first hears the worker's own words."""
        texts = self.texts(language)
        if (
            reply.duplicate
            or step.alert
            or detect_cue(text, texts.cues) != "heavy"
            or not await self.storage.resource_consent(user_id)
        ):
            return reply
        sentence = await self.resource_sentence(
            user_id, step.state.seed, exclude_reflection=reply.reflection_id
        )
        if sentence is None:
            return reply
        log.info("resource_offered reflection=%s", reply.reflection_id)
        offer = Turn(texts.text("resource_offer", sentence=sentence))
        return Reply((offer, *reply.turns), reply.reflection_id, reply.turn)

    # --- helpers -------------------------------------------------------------------------
    def _label(self, language: str, action: str) -> str | None:
        kind, _, value = action.partition(":")
        if kind == "t":
            theme = self.texts(language).theme(value)
            return theme.label if theme else None
        if kind == "s":
            return value
        return None

    async def _store_new(
        self, user_id: int, language: str, update_id: int | None, step: Step
    ) -> Reply:
        stored = await self.storage.start_reflection(
            user_id,
            step.state.to_json(),
            update_id=update_id,
            entry=entry_from(step.record),
            status=_status(step.state),
            theme=step.state.theme,
            kind=step.state.kind,
        )
        if stored is None:
            log.info("duplicate_update update=%s", update_id)
            return replace(await self._showing(user_id, language), duplicate=True)
        log.info("reflection_started reflection=%s", stored.id)
        if step.alert:
            log.info("safety_offered reflection=%s", stored.id)
        return Reply(step.turns, stored.id, step.state.turn)

    async def _apply(
        self,
        user_id: int,
        language: str,
        update_id: int | None,
        reflection: Reflection,
        state: State,
        event: Event,
    ) -> Reply:
        step = self._engine(language).handle(state, event)
        if not step.accepted:
            return Reply(step.turns, reflection.id, state.turn)
        fresh = await self.storage.record_step(
            reflection,
            step.state.to_json(),
            update_id=update_id,
            entry=entry_from(step.record),
            status=_status(step.state),
            theme=step.state.theme,
        )
        if not fresh:
            log.info("duplicate_update update=%s", update_id)
            return Reply(
                self._engine(language).current_turns(state),
                reflection.id,
                state.turn,
                duplicate=True,
            )
        if step.alert:
            log.info("safety_offered reflection=%s", reflection.id)
        if step.state.finished:
            log.info("reflection_finished reflection=%s", reflection.id)
        return Reply(step.turns, reflection.id, step.state.turn)
