"""Simulated workers and the two load shapes: flat out (closed loop) and paced (open loop).

A worker holds one reflection at a time: it sends a text, waits for the bot's reply to it, and
sends the next; when the bot's last message offers the 0-10 scale it presses a value instead.
After the finished message the next text starts a new reflection, as in real use.

- flat out: every worker acts again as soon as its reply arrived (plus optional think time), so
  the number of updates in flight equals the number of workers;
- paced: arrivals at a target rate (Poisson, seeded); each arrival goes to the worker idle the
  longest, so every worker gets a turn. Arrivals are scheduled in advance, not when the bot is
  ready (no coordinated omission); an arrival with no idle worker is counted as skipped.

Latency is measured from queuing the update in the stand-in to the bot's sendMessage into that
chat arriving at the stand-in, for updates queued inside the measurement window.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from bench.standin import BenchStandIn, Sent
from bench.texts import message
from tests.botapi_standin import FakeUser

_SCALE = re.compile(r"^d:\d+:\d+:s:(\d+)$")
FIRST_USER_ID = 10_000_000


def user_ids(count: int) -> list[int]:
    return [FIRST_USER_ID + i for i in range(count)]


def scale_buttons(message_dict: dict[str, Any] | None) -> list[str]:
    """Callback data of the 0-10 scale buttons on a bot message, if it has them."""
    if not message_dict:
        return []
    rows = (message_dict.get("reply_markup") or {}).get("inline_keyboard") or []
    return [
        b["callback_data"]
        for row in rows
        for b in row
        if isinstance(b.get("callback_data"), str) and _SCALE.match(b["callback_data"])
    ]


@dataclass
class Recorder:
    """Latencies of updates queued inside [start, end), replies counted inside it."""

    start: float = 0.0
    end: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # "text", "press"
    kinds: Counter[str] = field(default_factory=Counter)
    replied_in_window: int = 0
    sent_in_window: int = 0
    unanswered: int = 0
    lags: list[float] = field(default_factory=list)
    skipped: int = 0

    def in_window(self, moment: float) -> bool:
        return self.start <= moment < self.end

    def add(self, sent: Sent, replied_at: float | None) -> None:
        if replied_at is not None and self.in_window(replied_at):
            self.replied_in_window += 1
        if not self.in_window(sent.queued_at):
            return
        self.sent_in_window += 1
        self.kinds[sent.kind] += 1
        if replied_at is None:
            self.unanswered += 1
        else:
            self.latencies.append(replied_at - sent.queued_at)
            self.by_kind.setdefault(sent.kind, []).append(replied_at - sent.queued_at)


class Worker:
    def __init__(self, user_id: int, seed: int) -> None:
        self.user = FakeUser(user_id, first_name="Työntekijä", language_code="fi")
        self.rng = random.Random(seed * 1_000_003 + user_id)  # noqa: S311 - not security

    async def act(
        self,
        standin: BenchStandIn,
        recorder: Recorder,
        reply_timeout: float,
    ) -> bool:
        """Send the next text (or press a scale value); True once the bot has replied."""
        last = standin.last_message.get(self.user.id)
        scale = scale_buttons(last)
        if scale and last is not None:
            data = scale[min(self.rng.randint(3, 9), len(scale) - 1)]
            sent = standin.queue_press(self.user, last, data)
        else:
            sent = standin.queue_text(self.user, message(self.rng))
        try:
            async with asyncio.timeout(reply_timeout):
                replied_at: float | None = await asyncio.shield(sent.reply)
        except TimeoutError:
            standin.forget(self.user.id, sent)
            replied_at = None
        recorder.add(sent, replied_at)
        return replied_at is not None


async def _drain(tasks: set[asyncio.Task[Any]], timeout: float) -> None:  # noqa: ASYNC109
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)


async def run_flat_out(
    standin: BenchStandIn,
    workers: list[Worker],
    recorder: Recorder,
    *,
    think: float,
    reply_timeout: float,
) -> None:
    """Every worker acts again as soon as it has its reply, until the window closes."""

    async def loop(worker: Worker) -> None:
        while time.perf_counter() < recorder.end:
            if not await worker.act(standin, recorder, reply_timeout):
                return  # the bot did not answer in time: this worker stops
            if think > 0:
                await asyncio.sleep(worker.rng.uniform(0.5, 1.5) * think)

    tasks = {asyncio.create_task(loop(w)) for w in workers}
    await asyncio.wait(tasks, timeout=max(recorder.end - time.perf_counter(), 0.0))
    # the window has closed: no new actions; wait for the ones in flight
    await _drain(tasks, reply_timeout + 1.0)


async def run_paced(
    standin: BenchStandIn,
    workers: list[Worker],
    recorder: Recorder,
    *,
    rate: float,
    reply_timeout: float,
    seed: int,
) -> None:
    """Poisson arrivals at `rate` per second, each handed to the longest-idle worker."""
    rng = random.Random(seed)  # noqa: S311 - arrival times, not security
    idle: deque[Worker] = deque(workers)
    tasks: set[asyncio.Task[Any]] = set()

    async def turn(worker: Worker) -> None:
        await worker.act(standin, recorder, reply_timeout)
        idle.append(worker)

    due = time.perf_counter()
    while True:
        due += rng.expovariate(rate)
        if due >= recorder.end:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = time.perf_counter() - due
        if recorder.in_window(due):
            recorder.lags.append(lag)
        if not idle:
            if recorder.in_window(due):
                recorder.skipped += 1
            continue
        task = asyncio.create_task(turn(idle.popleft()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await _drain(set(tasks), reply_timeout + 1.0)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
