"""Pre-fill a database with stored answers through the bot's own Storage API and engine.

Every answer goes in as the bot itself would store it: the real dialogue engine picks the
questions (echoes included), ``Storage.start_reflection`` stores the first answer of a
reflection, ``Storage.record_step`` each further one, all sealed with the users' data keys under
the same master key the bot is started with. A user's budget of answers may run out mid-way,
which leaves that reflection active at that question: the benchmark's workers then continue
where their history stopped, as real workers do.

Building 100,000 answers takes a while (one committed transaction per answer), so a finished
database is kept in a cache folder, keyed by its parameters, and copied for each run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bench.texts import message
from bot.config import DEFAULT_PROMPTS_DIR
from bot.crypto import MasterKey
from bot.dialogue import Answer, ChooseScale, Engine, Event, Step
from bot.prompts import load_prompts
from bot.service import entry_from
from bot.storage import SCHEMA_VERSION, Reflection, Storage

_FORMAT = 2  # bump when the way history is generated changes


@dataclass(frozen=True)
class History:
    path: Path
    master_key: str
    answers: int
    users: int
    seconds: float  # time spent building (0.0 when copied from the cache)


def _budgets(rng: random.Random, answers: int, users: int) -> list[int]:
    """Answers per user, summing to `answers`: an even share give or take up to 5, so that
    users stop at different points of a reflection whatever the share is."""
    base, extra = divmod(answers, users)
    budgets = [base + (1 if i < extra else 0) for i in range(users)]
    for i in range(0, users - 1, 2):
        shift = rng.randint(0, min(5, budgets[i], budgets[i + 1]))
        if rng.random() < 0.5:
            shift = -shift
        budgets[i] -= shift
        budgets[i + 1] += shift
    return budgets


async def _fill(storage: Storage, engine: Engine, user_ids: list[int], answers: int) -> None:
    rng = random.Random(answers * 7919 + len(user_ids))  # noqa: S311 - not security
    budgets = _budgets(rng, answers, len(user_ids))
    for user_id, budget in zip(user_ids, budgets, strict=True):
        await storage.ensure_user(user_id, "fi")
        reflection: Reflection | None = None
        step: Step | None = None
        while budget > 0:
            if reflection is None or step is None or step.state.finished:
                opened = engine.start(rng.randrange(2**31))
                step = engine.handle(opened.state, Answer(message(rng)))
                assert step.record is not None
                reflection = await storage.start_reflection(
                    user_id,
                    step.state.to_json(),
                    entry=entry_from(step.record),
                    status="finished" if step.state.finished else "active",
                    theme=step.state.theme,
                )
                assert reflection is not None
                budget -= 1
                continue
            pending = step.state.pending
            event: Event = (
                ChooseScale(rng.randint(3, 9))
                if pending is not None and pending.stage == "scaling"
                else Answer(message(rng))
            )
            step = engine.handle(step.state, event)
            await storage.record_step(
                reflection,
                step.state.to_json(),
                update_id=None,
                entry=entry_from(step.record),
                status="finished" if step.state.finished else "active",
                theme=step.state.theme,
            )
            if step.record is not None:
                budget -= 1


async def build(path: Path, master_key: str, user_ids: list[int], answers: int) -> float:
    """Write `answers` answers for these users into a new database at `path`; seconds taken."""
    started = time.perf_counter()
    prompts = load_prompts(DEFAULT_PROMPTS_DIR)
    engine = Engine(prompts["fi"])
    storage = Storage(path, MasterKey.from_text(master_key))
    await storage.open()
    try:
        await _fill(storage, engine, user_ids, answers)
    finally:
        await storage.close()
    return time.perf_counter() - started


def _cache_name(user_ids: list[int], answers: int) -> str:
    spec = json.dumps([_FORMAT, SCHEMA_VERSION, user_ids[0], len(user_ids), answers])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _cached(cache_dir: Path, name: str) -> tuple[Path, Path, bool]:
    """The cached database and key file, and whether both are there."""
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cached, key_file = cache_dir / f"{name}.sqlite3", cache_dir / f"{name}.key"
    return cached, key_file, cached.exists() and key_file.exists()


def _fresh(path: Path) -> Path:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return path


def _keep(partial: Path, cached: Path, key_file: Path, key: str) -> None:
    key_file.touch(mode=0o600)
    key_file.write_text(key + "\n", encoding="ascii")
    partial.replace(cached)


def _copy_out(cached: Path, key_file: Path, target: Path) -> str:
    shutil.copyfile(cached, target)
    target.chmod(0o600)
    return key_file.read_text(encoding="ascii").strip()


async def prepare(
    target: Path, user_ids: list[int], answers: int, cache_dir: Path | None
) -> History:
    """A database with this history at `target` (built, or copied from the cache)."""
    from bot.crypto import generate

    if cache_dir is None:
        key = generate()
        seconds = await build(target, key, user_ids, answers)
        return History(target, key, answers, len(user_ids), seconds)
    name = _cache_name(user_ids, answers)
    cached, key_file, ready = await asyncio.to_thread(_cached, cache_dir, name)
    seconds = 0.0
    if not ready:
        key = generate()
        partial = await asyncio.to_thread(_fresh, cache_dir / f"{name}.partial.sqlite3")
        seconds = await build(partial, key, user_ids, answers)
        await asyncio.to_thread(_keep, partial, cached, key_file, key)
    key = await asyncio.to_thread(_copy_out, cached, key_file, target)
    return History(target, key, answers, len(user_ids), seconds)
