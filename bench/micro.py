"""In-process cost of one update in the bot's core, without Telegram: ``python -m bench.micro``.

Drives ``ReflectionService`` (engine + storage + sealing, the same objects the bot builds) with
simulated workers on a real WAL/synchronous=FULL database file, and reports per update: wall
time, CPU time of the event-loop thread and of the SQLite thread, and the number of aiosqlite
calls (each one a hop to the SQLite thread and back). Then it times the pieces on their own:
the engine step, the echo phrase search, the safety patterns, state JSON, sealing.

Used to find and check the bot's own hot spots; the end-to-end figures come from bench.run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from bench import history
from bench.load import user_ids
from bench.procs import thread_cpu_seconds
from bench.texts import SENTENCES, message
from bot.config import DEFAULT_PROMPTS_DIR
from bot.crypto import MasterKey, Sealer, generate, new_data_key
from bot.dialogue import Answer, ChooseScale, Engine, State
from bot.echo import salient_phrase
from bot.prompts import load_prompts
from bot.safety import SAFETY_FILE, load_safety
from bot.service import ReflectionService, Reply
from bot.storage import NewEntry, Storage

_HOPS = 0


def _count_hops() -> None:
    """Count every call aiosqlite sends to its thread (bench process only)."""
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *a: Any) -> Any:
        global _HOPS
        _HOPS += 1
        return await original(self, fn, *a)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


def _scale_action(reply: Reply) -> str | None:
    for turn in reply.turns[-1:]:
        for row in turn.buttons:
            for button in row:
                if button.action.startswith("s:"):
                    return "s:7"
    return None


def _other_threads_cpu() -> float:
    main = threading.get_native_id()
    return sum(
        seconds
        for name, seconds in thread_cpu_seconds(os.getpid()).items()
        if not name.endswith(f" {main}")
    )


async def service_figures(
    updates: int, users: int, seed: int, stored: int = 0, cache_dir: Path | None = None
) -> dict[str, float]:
    prompts = load_prompts(DEFAULT_PROMPTS_DIR)
    safety = load_safety(DEFAULT_PROMPTS_DIR / SAFETY_FILE)
    ids = user_ids(users)
    with tempfile.TemporaryDirectory(prefix="bench-micro-") as tmp:
        path = Path(tmp) / "micro.sqlite3"
        key = generate()
        if stored:
            key = (await history.prepare(path, ids, stored, cache_dir)).master_key
        storage = Storage(path, MasterKey.from_text(key))
        await storage.open()
        service = ReflectionService(storage, prompts, "fi", safety=safety)
        rng = random.Random(seed)  # noqa: S311 - not security  # noqa: S311 - not security
        replies: dict[int, Reply] = {}
        walls: list[float] = []
        main_cpu = 0.0
        hops0 = _HOPS
        other0 = _other_threads_cpu()
        presses = 0
        for number in range(updates):
            user = ids[number % users]
            await service.language(user, "fi")
            last = replies.get(user)
            action = _scale_action(last) if last is not None else None
            wall, cpu = time.perf_counter(), time.thread_time()
            if action is not None and last is not None and last.reflection_id is not None:
                press = await service.press(
                    user, "fi", number + 1, last.reflection_id, last.turn, action
                )
                reply = press.reply
                presses += 1
            else:
                reply = await service.text(user, "fi", number + 1, message(rng))
            main_cpu += time.thread_time() - cpu
            walls.append(time.perf_counter() - wall)
            replies[user] = reply
        hops = _HOPS - hops0
        other = _other_threads_cpu() - other0
        path_figures = await storage_path(storage, ids, updates, rng)
        await storage.close()
    return {
        "updates": updates,
        "presses": presses,
        "wall_us_mean": 1e6 * statistics.fmean(walls),
        "wall_us_p50": 1e6 * statistics.median(walls),
        "main_cpu_us": 1e6 * main_cpu / updates,
        "sqlite_thread_cpu_us": 1e6 * other / updates,
        "aiosqlite_calls": hops / updates,
        **path_figures,
    }


async def storage_path(
    storage: Storage, ids: list[int], rounds: int, rng: random.Random
) -> dict[str, float]:
    """The storage calls of every answer, on their own: read the active reflection, then
    commit the answer with the state (one read, one write transaction)."""
    walls: list[float] = []
    for number in range(rounds):
        start = time.perf_counter()
        reflection = await storage.active_reflection(ids[number % len(ids)])
        if reflection is None:
            continue
        entry = NewEntry("bench", "echo", "Millaista se on?", message(rng))
        await storage.record_step(
            reflection, reflection.state, update_id=2_000_000_000 + number, entry=entry
        )
        walls.append(time.perf_counter() - start)
    return {
        "storage_path_us_mean": 1e6 * statistics.fmean(walls),
        "storage_path_us_p99": 1e6 * sorted(walls)[int(0.99 * (len(walls) - 1))],
    }


def _timeit(fn: Callable[[], object], repeat: int) -> float:
    """Best of five runs of `repeat` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - start)
    return 1e6 * best / repeat


def piece_figures(seed: int) -> dict[str, float]:
    prompts = load_prompts(DEFAULT_PROMPTS_DIR)["fi"]
    safety = load_safety(DEFAULT_PROMPTS_DIR / SAFETY_FILE)
    engine = Engine(prompts, safety)
    rng = random.Random(seed)  # noqa: S311 - not security
    texts = [message(rng) for _ in range(200)]
    long_text = " ".join(SENTENCES[:5])
    stems = [s for group in prompts.cues.values() for s in group]
    steps: list[tuple[State, str]] = []
    state = engine.start(1).state
    for text in texts[:60]:
        step = engine.handle(state, Answer(text))
        pending = step.state.pending
        if step.state.finished:
            state = engine.start(rng.randrange(2**31)).state
        elif pending is not None and pending.stage == "scaling":
            state = engine.handle(step.state, ChooseScale(6)).state
        else:
            state = step.state
        steps.append((state, texts[len(steps) % len(texts)]))
    sealer = Sealer(1, new_data_key())
    sealed = sealer.seal(long_text, "entries.answer")
    json_state = steps[5][0].to_json()
    cycle = iter(range(10**9))

    def engine_step() -> None:
        state_, text = steps[next(cycle) % len(steps)]
        if not state_.finished:
            engine.handle(state_, Answer(text))

    return {
        "engine.handle (answer)": _timeit(engine_step, 300),
        "salient_phrase, long text": _timeit(
            lambda: salient_phrase(long_text, prompts.stopwords, stems), 200
        ),
        "Safety.matches, long text": _timeit(lambda: safety.matches(long_text), 500),
        "State.to_json": _timeit(steps[5][0].to_json, 2000),
        "State.from_json": _timeit(lambda: State.from_json(json_state), 2000),
        "Sealer.seal": _timeit(lambda: sealer.seal(long_text, "entries.answer"), 2000),
        "Sealer.open": _timeit(lambda: sealer.open(sealed, "entries.answer"), 2000),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--history", type=int, default=0, help="stored answers to pre-fill")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tyonohjaus-bench-cache"
    )
    args = parser.parse_args(argv)
    _count_hops()
    figures = asyncio.run(
        service_figures(args.updates, args.users, args.seed, args.history, args.cache_dir)
    )
    print(
        "service layer per update (ReflectionService.text/press on a real database, "
        f"{args.history:,} stored answers):"
    )
    for key, value in figures.items():
        print(f"  {key:<22} {value:10.1f}")
    print("pieces, microseconds per call (best of 5):")
    for key, value in piece_figures(args.seed).items():
        print(f"  {key:<28} {value:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
