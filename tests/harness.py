"""Run the real Application against the local Bot API stand-in, and read what the bot sent."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.config import Settings, load_settings
from bot.crypto import MasterKey, generate
from bot.prompts import PromptSet, load_prompts
from bot.safety import SAFETY_FILE, load_safety
from bot.storage import Storage
from bot.telegram.app import build_application
from bot.telegram.polling import DurablePoller
from tests.botapi_standin import BotApiStandIn, FakeUser
from tests.conftest import PROMPTS_DIR

TOKEN = "123456:TEST-token-for-offline-tests-only"
SUPERVISOR_PHONE = "+358400959474"


def settings_for(standin: BotApiStandIn, database: Path, **overrides: Any) -> Settings:
    settings = load_settings(
        env={
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_DATABASE": str(database),
            "BOT_PROMPTS_DIR": str(PROMPTS_DIR),
            "SUPERVISOR_NAME": "Maija Ohjaaja",
            "SUPERVISOR_PHONE": SUPERVISOR_PHONE,
            "BOT_API_BASE_URL": standin.base_url,
            "BOT_API_FILE_URL": standin.base_file_url,
        }
    )
    return dataclasses.replace(settings, **overrides)


class Harness:
    """A stand-in server plus a bot that can be stopped and started again on the same data."""

    def __init__(
        self,
        standin: BotApiStandIn,
        database: Path,
        clock: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> None:
        self.clock = clock
        self.standin = standin
        self.database = database
        self.settings = settings_for(standin, database, **overrides)
        self.prompts: dict[str, PromptSet] = load_prompts(PROMPTS_DIR)
        self.master = MasterKey.from_text(generate())
        self.safety = load_safety(PROMPTS_DIR / SAFETY_FILE)
        self.app: Application | None = None  # type: ignore[type-arg]
        self.poller: DurablePoller | None = None
        self._seeds = count(1)
        self.log: list[tuple[int, str]] = []  # (user id, line) for transcripts

    async def start_bot(self) -> None:
        app = build_application(
            self.settings,
            self.prompts,
            self.master,
            self.safety,
            seeds=lambda: next(self._seeds),
            clock=self.clock,
        )
        poller = DurablePoller(app, long_poll=1, backoff=0.2)
        await poller.start()
        self.app, self.poller = app, poller

    async def stop_bot(self) -> None:
        poller, self.poller, self.app = self.poller, None, None
        if poller is not None:
            await poller.stop()

    async def say(self, user: FakeUser, text: str, replies: int = 1) -> list[dict[str, Any]]:
        """Send a text and wait for the bot's replies to it."""
        self.standin.send_text(user, text)
        self.log.append((user.id, f"sinä:  {text}"))
        return self._logged(user, await self.standin.wait_outgoing(user.id, replies))

    async def press(
        self, user: FakeUser, message: dict[str, Any], data: str, replies: int = 1
    ) -> list[dict[str, Any]]:
        """Press a button and wait for the bot's new messages in reply."""
        self.standin.press(user, message, data)
        label = next((k for k, v in buttons(message).items() if v == data), data)
        self.log.append((user.id, f"sinä:  [{label}]"))
        return self._logged(user, await self.standin.wait_outgoing(user.id, replies))

    def _logged(self, user: FakeUser, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in items:
            if "contact" in item:
                line = f"<{item['contact']['first_name']} {item['contact']['phone_number']}>"
            elif "document" in item:
                line = f"<{item['document']['file_name']}>"
            else:
                line = str(item.get("text", ""))
            labels = "  ".join(f"[{label}]" for label in buttons(item))
            self.log.append((user.id, f"botti: {line}" + (f"\n       {labels}" if labels else "")))
        return items

    def transcript(self, user: FakeUser) -> str:
        """What the worker and the bot said to each other, in order."""
        return "\n".join(line for uid, line in self.log if uid == user.id)

    @asynccontextmanager
    async def storage(self) -> AsyncIterator[Storage]:
        """A second connection to the bot's database, for checking what was stored."""
        store = Storage(self.database, self.master)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def running_bot(
    tmp_path: Path, *, strict: bool = True, hold_seconds: float = 6.0, **overrides: Any
) -> AsyncIterator[Harness]:
    """A bot started on a fresh stand-in and database, stopped afterwards; `strict`: the
    stand-in must have seen no call it did not expect. `overrides` go to Harness."""
    async with BotApiStandIn(token=TOKEN, hold_seconds=hold_seconds) as standin:
        harness = Harness(standin, tmp_path / "bot.sqlite3", **overrides)
        await harness.start_bot()
        try:
            yield harness
        finally:
            await harness.stop_bot()
            if strict:
                assert standin.unexpected == [], standin.unexpected


async def answer_to(standin: BotApiStandIn, pressed: dict[str, Any]) -> dict[str, Any]:
    """The bot's answerCallbackQuery for a pressed button (waits for it)."""
    query_id = pressed["callback_query"]["id"]
    call = await standin.wait_call(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    return call.params


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Callback data of a bot message's inline buttons, keyed by label."""
    markup = message.get("reply_markup") or {}
    return {
        b["text"]: b["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    }


def button_data(message: dict[str, Any], suffix: str) -> str:
    """The callback data of the button whose data ends with `suffix` (e.g. ':enough')."""
    matches = [d for d in buttons(message).values() if d.endswith(suffix)]
    assert len(matches) == 1, (suffix, buttons(message))
    return matches[0]
