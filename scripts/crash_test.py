"""Crash test: SIGKILL the real bot process at random moments while simulated workers write.

    python -m scripts.crash_test --kills 200 --workers 20 --seed 1

The bot runs as ``python -m bot`` (long polling) against the in-process Bot API stand-in of
``tests/botapi_standin.py`` on 127.0.0.1. Simulated workers answer the bot's questions with
unique texts ("w3-a17 ...", worker 3, answer 17) or press a 0-10 scale button, and each waits
for the bot's reply before it writes again, like a person waiting for the next question.

An answer counts as *acknowledged* when the bot sent that worker a message after receiving it
that moves the conversation on: the next question, the finished message, or the current
question re-sent in reply to a redelivered update. A message repeating the very question the
worker was answering does not count. Every ``(reflection id, turn)`` in the buttons orders the
bot's messages, so a late re-send of an older question is never taken for a reply.

The bot is killed with SIGKILL in five ways: after a random uptime ("timer"), during start-up
("startup"), right after a worker queued an update ("queued"), shortly after getUpdates handed
updates to the bot ("delivered") and while the bot is sending ("sending": the message is in the
chat, the bot never hears that it arrived). It is restarted each time; an update it had not
confirmed is delivered again, as Telegram does.

At the end, with the bot stopped, the database must hold every acknowledged answer exactly once,
no answer twice and nothing nobody sent; ``PRAGMA integrity_check`` must be ok; and after the
last restart each worker's next answer must get a reply that is not the question it answered.
Those are the violations; the exit status is 1 if there is any.

Answers that never got a reply (the worker gives up and writes the next one) are counted and
classified, as a liveness finding, not a durability violation; ``--strict`` makes them fail
the run as well, together with errors in the bot's log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from aiohttp import web

from bot.crypto import MasterKey, generate
from bot.prompts import load_prompts
from bot.storage import Entry, Reflection, Storage
from tests.botapi_standin import BotApiStandIn, FakeUser, JsonDict

ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = ROOT / "prompts"
TOKEN = "123456:TEST-token-for-offline-tests-only"  # noqa: S105 - fake, local stand-in only
FIRST_USER_ID = 7_100_000
FINISHED_TURN = 10**9  # the finished message sorts after every question of its reflection

KillMode = Literal["timer", "startup", "queued", "delivered", "sending"]
MODE_WEIGHTS: tuple[tuple[KillMode, float], ...] = (
    ("timer", 0.35),
    ("startup", 0.05),
    ("queued", 0.20),
    ("delivered", 0.20),
    ("sending", 0.20),
)
Outcome = Literal["acked", "unanswered", "error"]
Key = tuple[int, int]  # (reflection id, turn) of a bot message
NO_KEY: Key = (0, 0)

_DIALOGUE_DATA = re.compile(r"^d:(\d+):(\d+):")
_SCALE_DATA = re.compile(r"^d:\d+:\d+:s:(\d+)$")
_SHARE_DATA = re.compile(r"^sh:(\d+)$")
_TAG = re.compile(r"^(w(\d+)-a\d+) ")
# Plain work-day phrases: no safety pattern, no "heavy" cue (verified against prompts/).
PHRASES = (
    "tänään kirjoitin raportin",
    "asiakastapaaminen aamupäivällä",
    "tiimipalaveri venyi pitkäksi",
    "kollega kysyi neuvoa",
    "luin uuden ohjeen",
    "suunnittelin ensi viikon",
    "soitin asiakkaalle",
    "järjestin arkiston",
    "opettelin uuden järjestelmän",
    "kirjoitin muistion",
)


class Failure(Exception):
    """The run cannot go on (the bot does not start, the time limit passed)."""


@dataclass(frozen=True)
class CrashConfig:
    kills: int = 200
    workers: int = 20
    seed: int = 1
    max_uptime: float = 4.0  # "timer" kills land uniformly in (min_uptime, max_uptime)
    min_uptime: float = 0.02
    max_arm_delay: float = 2.5  # triggered kills are armed after up to this long
    trigger_timeout: float = 3.0  # an armed trigger that does not fire kills anyway
    max_downtime: float = 0.25  # workers may queue updates while the bot is down
    think_max: float = 0.15  # a worker's pause between a reply and its next answer
    press_share: float = 0.4  # share of scale questions answered with a button
    duplicate_share: float = 0.05  # after a reply, Telegram delivers a recent update again
    reply_timeout: float = 8.0  # a live bot that got an update must answer within this
    start_timeout: float = 30.0
    final_timeout: float = 30.0
    time_limit: float = 1800.0  # stop killing after this long, and report it
    strict: bool = False
    workdir: Path | None = None  # default: a fresh temporary folder
    keep: bool = False  # keep the workdir (database, bot log) even without violations
    progress_every: int = 10
    log: Callable[[str], None] = field(default=print, repr=False)


@dataclass
class Attempt:
    """One answer a worker sent: the exact text, or a scale press, and what came of it."""

    worker: int
    number: int
    kind: Literal["text", "press"]
    answer: str  # as the bot stores it: the text, or the digits of the pressed value
    scale: int | None
    question_key: Key
    question_text: str
    update_id: int
    update: JsonDict = field(repr=False)
    final: bool = False
    outcome: Outcome | None = None
    reply_key: Key | None = None
    reply_text: str = ""
    stored: int = 0


@dataclass
class CrashReport:
    kills: int = 0
    restarts: int = 0
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    duplicates: int = 0
    missing: int = 0
    phantom: int = 0
    unanswered: int = 0
    error_replies: int = 0
    injected_duplicates: int = 0
    misfiled: int = 0
    redelivered: int = 0
    resume_failures: int = 0
    integrity: str = "not checked"
    bot_errors: int = 0
    elapsed: float = 0.0
    modes: Counter[str] = field(default_factory=Counter)
    unanswered_kinds: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    workdir: str = ""

    def summary(self) -> str:
        return (
            f"SUMMARY kills={self.kills} restarts={self.restarts} answers_sent={self.sent} "
            f"acknowledged={self.acknowledged} stored={self.stored} "
            f"duplicates={self.duplicates} missing={self.missing} phantom={self.phantom} "
            f"unanswered={self.unanswered} error_replies={self.error_replies} "
            f"resume_failures={self.resume_failures} integrity={self.integrity} "
            f"bot_errors={self.bot_errors} violations={len(self.violations)} "
            f"elapsed={self.elapsed:.1f}s"
        )


def message_key(item: JsonDict) -> Key | None:
    """Where a bot message stands in the conversation, read from its buttons."""
    markup = item.get("reply_markup") or {}
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            data = str(button.get("callback_data", ""))
            match = _DIALOGUE_DATA.match(data)
            if match:
                return int(match[1]), int(match[2])
            match = _SHARE_DATA.match(data)
            if match:
                return int(match[1]), FINISHED_TURN
    return None


def scale_buttons(item: JsonDict | None) -> list[tuple[str, int]]:
    """(callback data, value) of the 0-10 buttons on a scale question."""
    if item is None:
        return []
    markup = item.get("reply_markup") or {}
    found: list[tuple[str, int]] = []
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            data = str(button.get("callback_data", ""))
            match = _SCALE_DATA.match(data)
            if match:
                found.append((data, int(match[1])))
    return found


class CrashStandIn(BotApiStandIn):
    """The stand-in, plus which bot process (generation) each update was handed to."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.generation = 0
        self.polls: Counter[int] = Counter()
        # update_id -> [(generation, loop time)] for every getUpdates answer that carried it
        self.deliveries: dict[int, list[tuple[int, float]]] = {}
        self.on_delivered: Callable[[int], None] | None = None
        self.on_sent: Callable[[int], None] | None = None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info.get("method", "").lower()
        generation = self.generation  # the process that made the request
        if method == "getupdates":
            self.polls[generation] += 1
        response = await super()._handle_api(request)
        if response.status != 200 or method not in ("getupdates", "sendmessage"):
            return response
        body = response.body
        if not isinstance(body, bytes):
            return response
        result = json.loads(body).get("result")
        if method == "getupdates" and isinstance(result, list) and result:
            now = asyncio.get_running_loop().time()
            for update in result:
                self.deliveries.setdefault(int(update["update_id"]), []).append((generation, now))
            if self.on_delivered is not None:
                self.on_delivered(generation)
        elif method == "sendmessage" and self.on_sent is not None:
            self.on_sent(generation)
        return response


class Worker:
    """A simulated worker: one answer at a time, the next only after the bot replied."""

    def __init__(self, run: CrashRun, index: int) -> None:
        self.run = run
        self.index = index
        self.user = FakeUser(id=FIRST_USER_ID + index, first_name=f"Työntekijä{index}")
        self.rng = random.Random(run.config.seed * 1_000 + index)  # noqa: S311 - not security
        self.current: JsonDict | None = None
        self.current_key: Key = NO_KEY
        self.current_text = ""
        self.uncertain = False  # an answer went unanswered: the current question is unknown
        self.scanned = 0
        self.pending: Attempt | None = None
        self.attempts: list[Attempt] = []
        self.pressed: set[Key] = set()
        self.repeats = 0  # dialogue messages that did not move on (re-sends of old questions)
        self.others: Counter[str] = Counter()
        self.late = 0  # a moving-on message while nothing was pending (should stay 0)

    @property
    def chat_id(self) -> int:
        return self.user.id

    def scan(self) -> None:
        """Read the bot's new messages in this chat; a message that moves on acknowledges."""
        items = self.run.standin.outbox(self.chat_id)
        for item in items[self.scanned :]:
            key = message_key(item)
            text = str(item.get("text", ""))
            if key is None:
                self.others[text[:50]] += 1
                if self.pending is not None and text == self.run.error_text:
                    self.resolve(self.pending, "error", None, text)
            elif key > self.current_key:
                self.current, self.current_key, self.current_text = item, key, text
                self.uncertain = False
                if self.pending is not None:
                    self.resolve(self.pending, "acked", key, text)
                else:
                    self.late += 1
            else:
                self.repeats += 1
        self.scanned = len(items)

    def resolve(self, attempt: Attempt, outcome: Outcome, key: Key | None, text: str) -> None:
        attempt.outcome, attempt.reply_key, attempt.reply_text = outcome, key, text
        if outcome != "acked":
            self.uncertain = True
        if self.pending is attempt:
            self.pending = None

    def send(self, *, final: bool = False) -> Attempt:
        """Queue the next answer: a scale press now and then, otherwise a unique text."""
        number = len(self.attempts) + 1
        buttons = [] if self.uncertain or final else scale_buttons(self.current)
        use_press = (
            bool(buttons)
            and self.current_key not in self.pressed
            and self.rng.random() < self.run.config.press_share
        )
        standin = self.run.standin
        if use_press and self.current is not None:
            data, value = self.rng.choice(buttons)
            self.pressed.add(self.current_key)
            update = standin.press(self.user, self.current, data)
            kind: Literal["text", "press"] = "press"
            answer, scale = str(value), value
        else:
            answer = f"w{self.index}-a{number} {self.rng.choice(PHRASES)}"
            update = standin.send_text(self.user, answer)
            kind, scale = "text", None
        attempt = Attempt(
            worker=self.index,
            number=number,
            kind=kind,
            answer=answer,
            scale=scale,
            question_key=self.current_key,
            question_text=self.current_text,
            update_id=int(update["update_id"]),
            update=update,
            final=final,
        )
        self.attempts.append(attempt)
        self.pending = attempt
        self.run.queued()
        return attempt

    async def outcome(self, attempt: Attempt) -> None:
        """Wait, as long as it takes, until the attempt is acknowledged or given up."""
        while attempt.outcome is None:
            self.scan()
            if attempt.outcome is None:
                self.run.check_silent(self, attempt)
            if attempt.outcome is None:
                with contextlib.suppress(AssertionError):
                    await self.run.standin.wait_outgoing(self.chat_id, 1, timeout=0.2)

    async def loop(self) -> None:
        stop, config = self.run.stop_sending, self.run.config
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.rng.uniform(0.0, config.think_max)):
                    await stop.wait()
            if stop.is_set():
                break
            attempt = self.send()
            await self.outcome(attempt)
            if attempt.outcome == "acked" and self.rng.random() < config.duplicate_share:
                self.deliver_again()

    def deliver_again(self) -> None:
        """Telegram delivers one of this worker's recent, answered text updates once more.

        Only recent ones: the bot forgets update ids far older than the newest (as Telegram
        never redelivers those). Buttons are left out: their callback query ids expire.
        """
        recent = [a for a in self.attempts[-4:] if a.kind == "text" and a.outcome == "acked"]
        if recent:
            chosen = self.rng.choice(recent)
            self.run.standin.redeliver(chosen.update)
            self.run.injected.add(chosen.update_id)
            self.run.report.injected_duplicates += 1


class CrashRun:
    def __init__(self, config: CrashConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.database = workdir / "crash.sqlite3"
        self.bot_log = workdir / "bot.log"
        self.master_key = generate()
        self.rng = random.Random(config.seed)  # noqa: S311 - timing choices, not security
        self.standin = CrashStandIn()
        self.standin.on_delivered = self._delivered
        self.standin.on_sent = self._sent
        self.report = CrashReport(workdir=str(workdir))
        self.workers = [Worker(self, i + 1) for i in range(config.workers)]
        self.stop_sending = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.generation = 0
        self.killing = False  # SIGKILL sent to the current process
        self.armed: KillMode | None = None
        self.kill_fired = asyncio.Event()
        self.kill_times: dict[int, float] = {}
        self.examples: dict[str, str] = {}
        self.injected: set[int] = set()  # update ids delivered again on purpose
        self.started = time.monotonic()
        self.error_text = load_prompts(PROMPTS_DIR)["fi"].text("error")

    # --- the bot process ---------------------------------------------------------------
    def env(self) -> dict[str, str]:
        prefixes = ("BOT_", "TELEGRAM_", "SUPERVISOR_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            BOT_DATABASE=str(self.database),
            BOT_PROMPTS_DIR=str(PROMPTS_DIR),
            BOT_API_BASE_URL=self.standin.base_url,
            BOT_API_FILE_URL=self.standin.base_file_url,
            BOT_MASTER_KEY=self.master_key,
            BOT_KEY_FILE=str(self.workdir / "unused-master.key"),
            SUPERVISOR_PHONE="+358400959474",
            BOT_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        return env

    async def spawn(self, log: IO[bytes]) -> None:
        self.generation += 1
        self.standin.generation = self.generation
        self.killing = False
        self.armed = None
        self.kill_fired = asyncio.Event()
        log.write(f"=== bot process {self.generation} ===\n".encode())
        log.flush()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.workdir,
            env=self.env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        if self.generation > 1:
            self.report.restarts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None and not self.killing

    async def wait_ready(self) -> None:
        """Until the new process asks for updates (storage open, commands set)."""
        deadline = time.monotonic() + self.config.start_timeout
        while self.standin.polls[self.generation] == 0:
            process = self.process
            if process is None or process.returncode is not None:
                code = None if process is None else process.returncode
                raise Failure(f"bot process {self.generation} exited at start-up (rc={code})")
            if time.monotonic() > deadline:
                raise Failure(f"bot process {self.generation} did not poll in time")
            await asyncio.sleep(0.01)

    def kill(self, generation: int | None = None) -> None:
        """SIGKILL the current process (only if it is still the given generation)."""
        if generation is not None and generation != self.generation:
            return
        process = self.process
        self.armed = None
        if process is None or process.returncode is not None or self.killing:
            return
        self.killing = True
        self.kill_times[self.generation] = asyncio.get_running_loop().time()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        self.kill_fired.set()

    def _fire(self, delay: float) -> None:
        if delay <= 0:
            self.kill()
        else:
            asyncio.get_running_loop().call_later(delay, self.kill, self.generation)

    def queued(self) -> None:
        if self.armed == "queued" and self.alive():
            self.armed = None
            self._fire(self.rng.choice((0.0, self.rng.uniform(0.0, 0.03))))

    def _delivered(self, generation: int) -> None:
        if self.armed == "delivered" and generation == self.generation and self.alive():
            self.armed = None
            self._fire(self.rng.choice((0.0, self.rng.uniform(0.0, 0.08))))

    def _sent(self, generation: int) -> None:
        if self.armed == "sending" and generation == self.generation and self.alive():
            self.kill()  # before the bot hears that its message arrived

    async def stop_process(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time; always reaped."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            self.report.violations.append("the bot did not stop within 20 s of SIGTERM")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    # --- one kill ----------------------------------------------------------------------
    def pick_mode(self) -> KillMode:
        modes = [m for m, _ in MODE_WEIGHTS]
        weights = [w for _, w in MODE_WEIGHTS]
        return self.rng.choices(modes, weights)[0]

    async def cycle(self, log: IO[bytes]) -> None:
        config = self.config
        mode = self.pick_mode()
        await self.spawn(log)
        if mode == "startup":
            await asyncio.sleep(self.rng.uniform(0.05, 0.8))
            self.kill()
        else:
            await self.wait_ready()
            if mode == "timer":
                await asyncio.sleep(self.rng.uniform(config.min_uptime, config.max_uptime))
                self.kill()
            else:
                await asyncio.sleep(self.rng.uniform(config.min_uptime, config.max_arm_delay))
                self.armed = mode
                try:
                    async with asyncio.timeout(config.trigger_timeout):
                        await self.kill_fired.wait()
                except TimeoutError:
                    mode_note = f"{mode}-fallback"
                    self.report.modes[mode_note] += 1
                    self.kill()
        process = self.process
        assert process is not None
        async with asyncio.timeout(20):
            code = await process.wait()
        if code != -signal.SIGKILL:
            self.report.violations.append(
                f"bot process {self.generation} ended by itself (rc={code}) before the kill"
            )
        self.report.kills += 1
        self.report.modes[mode] += 1
        await asyncio.sleep(0.05)  # requests the dead process had fully sent are served
        self.give_up_lost()
        await asyncio.sleep(self.rng.uniform(0.0, config.max_downtime))

    def give_up_lost(self) -> None:
        """Updates the dead process had confirmed but not answered will never come back."""
        pending = set(self.standin.pending_update_ids())
        for worker in self.workers:
            worker.scan()
            attempt = worker.pending
            if attempt is None or attempt.outcome is not None:
                continue
            if attempt.update_id not in pending and attempt.update_id in self.standin.deliveries:
                worker.resolve(attempt, "unanswered", None, "")

    def check_silent(self, worker: Worker, attempt: Attempt) -> None:
        """A live process that got and confirmed the update but stayed silent for too long."""
        if not self.alive():
            return
        seen = self.standin.deliveries.get(attempt.update_id)
        if not seen or seen[-1][0] != self.generation:
            return
        if attempt.update_id in self.standin.pending_update_ids():
            return
        if asyncio.get_running_loop().time() - seen[-1][1] >= self.config.reply_timeout:
            worker.resolve(attempt, "unanswered", None, "")

    # --- the whole run -----------------------------------------------------------------
    def progress(self, final: bool = False) -> None:
        attempts = [a for w in self.workers for a in w.attempts]
        acked = sum(a.outcome == "acked" for a in attempts)
        unanswered = sum(a.outcome == "unanswered" for a in attempts)
        label = "final" if final else f"kill {self.report.kills}/{self.config.kills}"
        self.config.log(
            f"[{label}] t={time.monotonic() - self.started:.1f}s answers={len(attempts)} "
            f"acknowledged={acked} unanswered={unanswered} violations so far="
            f"{len(self.report.violations)}"
        )

    async def run(self) -> CrashReport:
        config = self.config
        tasks: list[asyncio.Task[None]] = []
        await self.standin.start()
        try:
            with self.bot_log.open("ab") as log:
                tasks = [asyncio.create_task(w.loop()) for w in self.workers]
                try:
                    while self.report.kills < config.kills:
                        if time.monotonic() - self.started > config.time_limit:
                            raise Failure(
                                f"time limit {config.time_limit:.0f} s reached after "
                                f"{self.report.kills} of {config.kills} kills"
                            )
                        await self.cycle(log)
                        if self.report.kills % max(config.progress_every, 1) == 0:
                            self.progress()
                    await self.finish(log, tasks)
                except Failure as exc:
                    self.report.violations.append(str(exc))
        finally:
            self.stop_sending.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            process = self.process
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            await self.standin.stop()
        await self.check_database()
        self.check_log()
        self.tally()
        self.report.elapsed = time.monotonic() - self.started
        return self.report

    async def finish(self, log: IO[bytes], tasks: list[asyncio.Task[None]]) -> None:
        """Last restart: open answers settle, then each worker answers once more."""
        config = self.config
        self.stop_sending.set()
        await self.spawn(log)
        await self.wait_ready()
        try:
            async with asyncio.timeout(config.final_timeout + config.reply_timeout):
                await asyncio.gather(*tasks)
        except TimeoutError:
            stuck = [w.index for w in self.workers if w.pending is not None]
            self.report.violations.append(f"workers still waiting at the end: {stuck}")
            return
        self.progress(final=True)
        before = {w.index: (w.current_key, w.current_text) for w in self.workers}
        finals = [w.send(final=True) for w in self.workers]
        try:
            async with asyncio.timeout(config.final_timeout + config.reply_timeout):
                await asyncio.gather(
                    *(w.outcome(a) for w, a in zip(self.workers, finals, strict=True))
                )
        except TimeoutError:
            pass
        for worker, attempt in zip(self.workers, finals, strict=True):
            key, text = before[worker.index]
            problem = None
            if attempt.outcome != "acked" or attempt.reply_key is None:
                problem = f"no reply that moves on ({attempt.outcome or 'still waiting'})"
            elif attempt.reply_key[0] == key[0] and attempt.reply_text.strip() == text.strip():
                problem = f"the question {text[:60]!r} was asked again as a new one"
            if problem:
                self.report.resume_failures += 1
                self.report.violations.append(
                    f"resume: worker {worker.index} answer {attempt.answer!r}: {problem}"
                )
        await self.stop_process()

    # --- checks ------------------------------------------------------------------------
    async def check_database(self) -> None:
        if not self.database.exists():
            self.report.violations.append("no database file")
            return
        storage = Storage(self.database, MasterKey.from_text(self.master_key))
        await storage.open()
        try:
            self.report.integrity = await storage.integrity_check()
            data = {w.index: await storage.everything(w.user.id) for w in self.workers}
        finally:
            await storage.close()
        if self.report.integrity != "ok":
            self.report.violations.append(f"integrity_check: {self.report.integrity}")
        for worker in self.workers:
            self.match_entries(worker, data[worker.index])

    def match_entries(self, worker: Worker, data: list[tuple[Reflection, list[Entry]]]) -> None:
        """Count each attempt's answer in the worker's rows; whatever is left is a phantom."""
        tagged: dict[str, list[Entry]] = {}
        untagged: list[Entry] = []
        for _reflection, entries in data:
            for entry in entries:
                match = _TAG.match(entry.answer)
                if match is None:
                    untagged.append(entry)
                    continue
                tagged.setdefault(match[1], []).append(entry)
                if int(match[2]) != worker.index:
                    self.report.violations.append(
                        f"worker {worker.index} holds another worker's answer {entry.answer!r}"
                    )
        used: set[int] = set()
        for attempt in worker.attempts:
            if attempt.kind == "text":
                tag = attempt.answer.split(" ", 1)[0]
                found = tagged.pop(tag, [])
                for entry in found:
                    if entry.answer != attempt.answer:
                        self.report.violations.append(
                            f"stored text differs: sent {attempt.answer!r}, "
                            f"stored {entry.answer!r}"
                        )
                    elif self.unseen_question(attempt, entry):
                        self.report.misfiled += 1
                        self.examples.setdefault(
                            "misfiled",
                            f"{attempt.answer!r} was written to {attempt.question_text[:50]!r} "
                            f"but is stored as the answer to {entry.question[:50]!r}",
                        )
            else:
                found = [
                    e
                    for e in untagged
                    if e.id not in used
                    and e.reflection_id == attempt.question_key[0]
                    and e.answer == attempt.answer
                    and e.scale == attempt.scale
                    and e.question.strip() == attempt.question_text.strip()
                ]
                used.update(e.id for e in found)
            attempt.stored = len(found)
        for tag, entries in tagged.items():
            self.report.phantom += len(entries)
            self.report.violations.append(
                f"worker {worker.index}: stored answer {tag!r} that was never sent"
            )
        for entry in untagged:
            if entry.id not in used:
                self.report.phantom += 1
                self.report.violations.append(
                    f"worker {worker.index}: stored answer {entry.answer!r} "
                    f"(reflection {entry.reflection_id}) that no press explains"
                )

    @staticmethod
    def unseen_question(attempt: Attempt, entry: Entry) -> bool:
        """The answer is filed under another question than the one on the worker's screen."""
        key = attempt.question_key
        if key == NO_KEY or key[1] == FINISHED_TURN:
            return False  # a text that opens a reflection answers its opening question
        return (
            entry.reflection_id != key[0]
            or entry.question.strip() != attempt.question_text.strip()
        )

    def check_log(self) -> None:
        if not self.bot_log.exists():
            return
        lines = self.bot_log.read_text(encoding="utf-8", errors="replace").splitlines()
        errors = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
        self.report.bot_errors = len(errors)
        if errors:
            self.report.findings.append(f"bot log errors, first: {errors[0][:200]}")
            if self.config.strict:
                self.report.violations.append(f"{len(errors)} error line(s) in the bot log")

    def tally(self) -> None:
        report = self.report
        repeats = sum(w.repeats for w in self.workers)
        others: Counter[str] = Counter()
        for worker in self.workers:
            others.update(worker.others)
        report.findings.append(
            f"questions re-sent without moving on (replies to duplicates): {repeats}; "
            f"other bot messages: {dict(others) or 'none'}"
        )
        for worker in self.workers:
            if worker.late:
                report.findings.append(
                    f"worker {worker.index}: {worker.late} reply(ies) after giving up"
                )
            for attempt in worker.attempts:
                report.sent += 1
                report.acknowledged += attempt.outcome == "acked"
                report.error_replies += attempt.outcome == "error"
                report.stored += attempt.stored > 0
                where = f"worker {worker.index} {attempt.kind} {attempt.answer!r}"
                if attempt.stored > 1:
                    report.duplicates += 1
                    report.violations.append(f"duplicate: {where} stored {attempt.stored}x")
                if attempt.outcome == "acked" and attempt.stored == 0:
                    report.missing += 1
                    report.violations.append(
                        f"missing: {where} (update {attempt.update_id}) was acknowledged "
                        "but is not in the database"
                    )
                if attempt.outcome == "unanswered":
                    report.unanswered += 1
                    report.unanswered_kinds[self.classify(attempt)] += 1
        attempts = {a.update_id: a for w in self.workers for a in w.attempts}
        redelivered = [
            u
            for u, seen in self.standin.deliveries.items()
            if len({g for g, _ in seen}) > 1 and u not in self.injected
        ]
        report.redelivered = len(redelivered)
        acked = sum(attempts[u].outcome == "acked" for u in redelivered if u in attempts)
        report.findings.append(
            f"updates redelivered to a new bot process after a kill: {len(redelivered)} "
            f"({acked} of them then acknowledged); duplicate deliveries injected: "
            f"{report.injected_duplicates}"
        )
        for kind, count in sorted(report.unanswered_kinds.items()):
            report.findings.append(f"unanswered {kind}: {count}; e.g. {self.examples[kind]}")
        if report.misfiled:
            report.findings.append(
                f"answers stored under a question the worker never saw: {report.misfiled}; "
                f"e.g. {self.examples['misfiled']}"
            )
        if report.unanswered and self.config.strict:
            report.violations.append(f"{report.unanswered} answer(s) never got a reply")
        if report.misfiled and self.config.strict:
            report.violations.append(f"{report.misfiled} answer(s) filed under another question")

    def classify(self, attempt: Attempt) -> str:
        """What kind of silence this was, with one example as evidence."""
        deliveries = self.standin.deliveries.get(attempt.update_id, [])
        processes = sorted({generation for generation, _ in deliveries})
        how = "redelivered" if len(processes) > 1 else "not redelivered"
        stored = "stored" if attempt.stored else "not stored"
        kind = f"{attempt.kind}, {how}, {stored}"
        if kind not in self.examples:
            handed = []
            for generation, when in deliveries:
                killed = self.kill_times.get(generation)
                fate = f"killed {killed - when:.3f} s later" if killed else "not killed"
                handed.append(f"process {generation} ({fate})")
            self.examples[kind] = (
                f"update {attempt.update_id}, worker {attempt.worker} {attempt.answer!r} "
                f"answering {attempt.question_text[:50]!r}, handed to {', '.join(handed)}"
            )
        return kind


async def run(config: CrashConfig) -> CrashReport:
    """The whole crash test; the report lists every violation (empty when all held)."""
    if config.workdir is not None:
        config.workdir.mkdir(parents=True, exist_ok=True)
        workdir = config.workdir
        made = False
    else:
        workdir = Path(tempfile.mkdtemp(prefix="crash-test-"))
        made = True
    try:
        report = await CrashRun(config, workdir).run()
    except BaseException:
        if made and not config.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    if made and not config.keep and not report.violations:
        shutil.rmtree(workdir, ignore_errors=True)
        report.workdir = ""
    return report


def _print(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None) -> CrashConfig:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.crash_test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    base = CrashConfig()
    parser.add_argument("--kills", type=int, default=base.kills, help="SIGKILLs (default 200)")
    parser.add_argument("--workers", type=int, default=base.workers, help="simulated workers")
    parser.add_argument("--seed", type=int, default=base.seed, help="random seed")
    parser.add_argument(
        "--max-uptime", type=float, default=base.max_uptime, help="longest uptime, seconds"
    )
    parser.add_argument(
        "--think-max", type=float, default=base.think_max, help="longest pause of a worker"
    )
    parser.add_argument(
        "--reply-timeout",
        type=float,
        default=base.reply_timeout,
        help="how long a live bot may stay silent about an update it took",
    )
    parser.add_argument(
        "--time-limit", type=float, default=base.time_limit, help="stop killing after this"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for the database and bot log"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and bot log")
    parser.add_argument(
        "--strict", action="store_true", help="unanswered answers and bot errors fail too"
    )
    args = parser.parse_args(argv)
    if args.kills < 1 or args.workers < 1:
        parser.error("--kills and --workers must be at least 1")
    return replace(
        base,
        kills=args.kills,
        workers=args.workers,
        seed=args.seed,
        max_uptime=args.max_uptime,
        max_arm_delay=min(base.max_arm_delay, args.max_uptime),
        think_max=args.think_max,
        reply_timeout=args.reply_timeout,
        time_limit=args.time_limit,
        workdir=args.workdir,
        keep=args.keep,
        strict=args.strict,
        progress_every=max(args.kills // 20, 1),
        log=_print,
    )


def report_lines(report: CrashReport) -> Iterator[str]:
    modes = ", ".join(f"{k}={v}" for k, v in sorted(report.modes.items()))
    yield f"kill moments: {modes}"
    for finding in report.findings:
        yield f"finding: {finding}"
    for violation in report.violations[:50]:
        yield f"VIOLATION: {violation}"
    if len(report.violations) > 50:
        yield f"... and {len(report.violations) - 50} more violations"
    if report.workdir:
        yield f"database and bot log kept in {report.workdir}"


async def _main_async(config: CrashConfig) -> CrashReport:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(config)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    config.log(
        f"crash test: {config.kills} kills, {config.workers} workers, seed {config.seed}, "
        f"bot {sys.executable} -m bot"
    )
    try:
        report = asyncio.run(_main_async(config))
    except (KeyboardInterrupt, asyncio.CancelledError):
        config.log("interrupted; the bot process was killed")
        return 130
    except Failure as exc:
        config.log(f"FAILED: {exc}")
        return 1
    for line in report_lines(report):
        config.log(line)
    config.log(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
