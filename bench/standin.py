"""The test suite's Bot API stand-in, with per-chat reply timing for the benchmark.

``tests.botapi_standin.BotApiStandIn`` is used unchanged except for three things:

- each queued update is remembered with the time it was queued; when ``getUpdates`` hands it to
  the bot it is marked delivered, and the first ``sendMessage`` into that chat after that is its
  reply (a ``sendMessage`` with no delivered update waiting in its chat is counted as an extra);
- a reply wakes only the one worker waiting for it (the stand-in's own ``wait_outgoing`` wakes
  every waiter on every event, which costs O(workers) per message at 10,000 workers);
- calls are counted per method instead of being kept (a long run would keep every one).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from tests.botapi_standin import BotApiStandIn, Call, FakeUser

JsonDict = dict[str, Any]


@dataclass
class Sent:
    """One update from a worker, waiting for the bot's reply."""

    update_id: int
    queued_at: float
    kind: str  # "text" or "press"
    delivered: bool = False
    reply: asyncio.Future[float] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class BenchStandIn(BotApiStandIn):
    def __init__(self, *, token: str) -> None:
        super().__init__(token=token)
        self.method_counts: Counter[str] = Counter()
        self.first_poll_at: float | None = None
        self.extra_messages = 0
        self.last_message: dict[int, JsonDict] = {}
        self._waiting: dict[int, deque[Sent]] = {}
        self._by_update: dict[int, tuple[int, Sent]] = {}

    # --- user side -------------------------------------------------------------------
    def queue_text(self, user: FakeUser, text: str) -> Sent:
        update = self.send_text(user, text)
        return self._track(user.id, update, "text")

    def queue_press(self, user: FakeUser, message: JsonDict, data: str) -> Sent:
        update = self.press(user, message, data)
        return self._track(user.id, update, "press")

    def _track(self, chat_id: int, update: JsonDict, kind: str) -> Sent:
        sent = Sent(int(update["update_id"]), time.perf_counter(), kind)
        self._waiting.setdefault(chat_id, deque()).append(sent)
        self._by_update[sent.update_id] = (chat_id, sent)
        return sent

    def forget(self, chat_id: int, sent: Sent) -> None:
        """Stop waiting for a reply (the worker gave up)."""
        waiting = self._waiting.get(chat_id)
        if waiting and sent in waiting:
            waiting.remove(sent)
        self._by_update.pop(sent.update_id, None)

    # --- bot side --------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        method = call.method.lower()
        self.method_counts[method] += 1
        if method == "getupdates" and self.first_poll_at is None:
            self.first_poll_at = time.perf_counter()

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        updates = await super()._get_updates(params)
        for update in updates:
            tracked = self._by_update.pop(int(update["update_id"]), None)
            if tracked is not None:
                tracked[1].delivered = True
        return updates

    def _send_message(self, params: JsonDict) -> JsonDict:
        message = super()._send_message(params)
        now = time.perf_counter()
        chat_id = int(message["chat"]["id"])
        self.last_message[chat_id] = message
        waiting = self._waiting.get(chat_id)
        if waiting and waiting[0].delivered:
            sent = waiting.popleft()
            if not sent.reply.done():
                sent.reply.set_result(now)
        else:
            self.extra_messages += 1
        return message
