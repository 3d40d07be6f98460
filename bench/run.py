"""Benchmark the real bot against a minimal PTB echo bot on the local Bot API stand-in.

Each bot runs as its own process (``python -m bot``, ``python -m bench.echo_bot``) against a
fresh stand-in served from this process on 127.0.0.1; simulated workers hold reflections. For
every run it prints updates/s, p50/p95/p99/max update-to-reply latency, the bot's peak RSS
(VmHWM), the database size (db + -wal), cold start (process start to the first getUpdates),
CPU per update of the bot and of this process (the harness), and ours/echo ratios.

Suites: ``default`` (flat out with 100 and 1,000 workers, paced at 30/s with 1,000 workers on
10,000 and 100,000 stored answers; about 6 minutes), ``scale10k`` (10,000 workers paced, its
own command), ``diagnose`` (ablations: one update at a time, httpx, synchronous=NORMAL,
optionally profiled with py-spy), ``quick`` (a smoke run). ``--mode`` runs one scenario.
Everything is bounded: each phase has a deadline and every loop stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench import history
from bench.load import Recorder, Worker, percentile, run_flat_out, run_paced, user_ids
from bench.procs import (
    REPO,
    BotProcess,
    code_fingerprint,
    cpu_seconds,
    self_cpu_seconds,
    thread_cpu_seconds,
)
from bench.standin import BenchStandIn

TOKEN = "123456:TEST-token-for-offline-tests-only"  # noqa: S105 - the tests' offline token
SUPERVISOR_PHONE = "+358400959474"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "tyonohjaus-bench-cache"
TARGET_RATIO = 1.3
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 120.0
TARGET_COLD_S = 1.5


@dataclass(frozen=True)
class BotKind:
    key: str
    label: str
    module: str
    env: tuple[tuple[str, str], ...] = ()
    uses_db: bool = True

    @property
    def is_ours(self) -> bool:
        return self.key.startswith("ours")


BOTS = {
    b.key: b
    for b in (
        BotKind("ours", "ours", "bot"),
        BotKind("echo", "echo", "bench.echo_bot", uses_db=False),
        BotKind(
            "ours-syncnormal",
            "ours, sync=NORMAL (diag)",
            "bench.variant",
            (("BENCH_BOT_VARIANT", "sync-normal"),),
        ),
        BotKind(
            "ours-serial",
            "ours, one update at a time (diag)",
            "bench.variant",
            (("BENCH_BOT_VARIANT", "serial"),),
        ),
        BotKind(
            "ours-httpx",
            "ours, PTB's httpx transport (diag)",
            "bench.variant",
            (("BENCH_BOT_VARIANT", "httpx"),),
        ),
        BotKind(
            "echo-aiohttp",
            "echo, our aiohttp transport (diag)",
            "bench.echo_bot",
            (("BENCH_ECHO_TRANSPORT", "aiohttp"),),
            uses_db=False,
        ),
    )
}


@dataclass(frozen=True)
class Scenario:
    mode: str  # "flat" or "paced"
    workers: int
    duration: float
    warmup: float = 5.0
    rate: float = 0.0
    history: int = 0
    think: float = 0.0
    bots: tuple[str, ...] = ("ours", "echo")

    @property
    def title(self) -> str:
        load = f"paced {self.rate:g}/s" if self.mode == "paced" else "flat out"
        hist = f", {self.history:,} stored" if self.history else ""
        think = f", think {self.think * 1000:g} ms" if self.think else ""
        return f"{load}, {self.workers:,} workers{hist}{think}, {self.duration:g} s"

    def for_echo(self) -> Scenario:
        """Echo keeps no database: the same load without the history."""
        return replace(self, history=0, bots=("echo",))


@dataclass
class Figures:
    scenario: str
    bot: str
    updates_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    answered: int
    unanswered: int
    presses: int
    peak_rss_mb: float
    end_rss_mb: float
    db_mb: float
    db_start_mb: float
    cold_start_s: float
    bot_cpu_ms_per_update: float
    bot_cpu_pct: float
    harness_cpu_pct: float
    skipped_arrivals: int = 0
    pacing_lag_p99_ms: float = 0.0
    extra_messages: int = 0
    standin_errors: int = 0
    prefill_s: float = 0.0
    exit_code: int | None = None
    code: str = ""
    profile: str = ""
    thread_cpu_ms_per_update: dict[str, float] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)
    text_p50_ms: float = math.nan  # texts only: the one kind of update echo also answers
    text_p99_ms: float = math.nan
    press_p99_ms: float = math.nan


@dataclass
class Options:
    seed: int
    reply_timeout: float
    cache_dir: Path | None
    workdir: Path | None
    profile_dir: Path | None
    keep: bool


def _ms_percentile(seconds: list[float], q: float) -> float:
    return percentile([x * 1000 for x in seconds], q)


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


async def _wait_first_poll(standin: BenchStandIn, proc: BotProcess, limit: float) -> None:
    deadline = time.perf_counter() + limit
    while standin.first_poll_at is None:
        if not proc.alive():
            raise RuntimeError(f"{proc.module} exited at start-up:\n{proc.log_tail()}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{proc.module}: no getUpdates within {limit} s")
        await asyncio.sleep(0.002)


async def run_one(scenario: Scenario, kind: BotKind, opts: Options) -> Figures:
    """Start a stand-in and the bot, load it, measure, stop both."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=opts.workdir))
    standin = BenchStandIn(token=TOKEN)
    await standin.start()
    proc: BotProcess | None = None
    try:
        ids = user_ids(scenario.workers)
        database = tmp / "bot.sqlite3"
        key = None
        prefill_s = 0.0
        if kind.uses_db and scenario.history:
            prepared = await history.prepare(database, ids, scenario.history, opts.cache_dir)
            key, prefill_s = prepared.master_key, prepared.seconds
        if key is None:
            from bot.crypto import generate

            key = generate()
        db_start = _db_bytes(database)
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_DATABASE": str(database),
            "BOT_PROMPTS_DIR": str(REPO / "prompts"),
            "BOT_API_BASE_URL": standin.base_url,
            "BOT_API_FILE_URL": standin.base_file_url,
            "BOT_MASTER_KEY": key,
            "SUPERVISOR_PHONE": SUPERVISOR_PHONE,
            "BOT_LOG_LEVEL": "WARNING",
            **dict(kind.env),
        }
        proc = BotProcess(kind.module, env, tmp, tmp / "bot.log")
        code = code_fingerprint()
        proc.start()
        await _wait_first_poll(standin, proc, 60.0)
        assert standin.first_poll_at is not None
        cold_start = standin.first_poll_at - proc.started_at

        workers = [Worker(uid, opts.seed) for uid in ids]
        recorder = Recorder()
        now = time.perf_counter()
        recorder.start = now + scenario.warmup
        recorder.end = recorder.start + scenario.duration
        window = asyncio.create_task(_window(recorder, proc, kind, scenario, opts, tmp))
        if scenario.mode == "paced":
            await run_paced(
                standin,
                workers,
                recorder,
                rate=scenario.rate,
                reply_timeout=opts.reply_timeout,
                seed=opts.seed,
            )
        else:
            await run_flat_out(
                standin,
                workers,
                recorder,
                think=scenario.think,
                reply_timeout=opts.reply_timeout,
            )
        bot_cpu, harness_cpu, threads, profile = await window
        db_end = _db_bytes(database)
        end_rss, peak_rss = proc.memory()
        exit_code = await proc.stop()
        if exit_code not in (0, None):
            print(f"  note: {kind.module} exited with {exit_code}:\n{proc.log_tail()}")
        lat = [x * 1000 for x in recorder.latencies]
        replies = recorder.replied_in_window
        return Figures(
            scenario=scenario.title,
            bot=kind.label,
            updates_per_s=replies / scenario.duration,
            p50_ms=percentile(lat, 50),
            p95_ms=percentile(lat, 95),
            p99_ms=percentile(lat, 99),
            max_ms=max(lat) if lat else math.nan,
            answered=len(lat),
            unanswered=recorder.unanswered,
            presses=recorder.kinds["press"],
            text_p50_ms=_ms_percentile(recorder.by_kind.get("text", []), 50),
            text_p99_ms=_ms_percentile(recorder.by_kind.get("text", []), 99),
            press_p99_ms=_ms_percentile(recorder.by_kind.get("press", []), 99),
            peak_rss_mb=peak_rss / 1024,
            end_rss_mb=end_rss / 1024,
            db_mb=db_end / 1e6,
            db_start_mb=db_start / 1e6,
            cold_start_s=cold_start,
            bot_cpu_ms_per_update=1000 * bot_cpu / replies if replies else math.nan,
            bot_cpu_pct=100 * bot_cpu / scenario.duration,
            harness_cpu_pct=100 * harness_cpu / scenario.duration,
            skipped_arrivals=recorder.skipped,
            pacing_lag_p99_ms=percentile(recorder.lags, 99) * 1000 if recorder.lags else 0.0,
            extra_messages=standin.extra_messages,
            standin_errors=len(standin.errors),
            prefill_s=prefill_s,
            exit_code=exit_code,
            code=code,
            profile=profile,
            thread_cpu_ms_per_update={
                name: round(1000 * seconds / replies, 3) if replies else math.nan
                for name, seconds in threads.items()
                if seconds > 0
            },
            methods=dict(standin.method_counts),
        )
    finally:
        if proc is not None and proc.alive():
            await proc.stop()
        await standin.stop()
        if opts.keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def _window(
    recorder: Recorder,
    proc: BotProcess,
    kind: BotKind,
    scenario: Scenario,
    opts: Options,
    tmp: Path,
) -> tuple[float, float, dict[str, float], str]:
    """CPU of the bot (per thread too) and of this process inside the window; py-spy if asked."""
    from bench import profile

    await asyncio.sleep(max(recorder.start - time.perf_counter(), 0.0))
    bot0, self0 = cpu_seconds(proc.pid), self_cpu_seconds()
    threads0 = thread_cpu_seconds(proc.pid)
    spy = None
    raw = None
    if opts.profile_dir is not None:
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{scenario.mode}-{scenario.workers}w-{scenario.history}h-{kind.key}"
        raw = opts.profile_dir / f"{stamp}.pyspy.txt"
        spy = await profile.record(proc.pid, scenario.duration - 1, raw)
    await asyncio.sleep(max(recorder.end - time.perf_counter(), 0.0))
    bot1, self1 = cpu_seconds(proc.pid), self_cpu_seconds()
    threads = {
        name: seconds - threads0.get(name, 0.0)
        for name, seconds in thread_cpu_seconds(proc.pid).items()
    }
    summary = ""
    if spy is not None and raw is not None:
        try:
            async with asyncio.timeout(30):
                await spy.wait()
        except TimeoutError:
            spy.kill()
        if raw.exists():
            summary = profile.summarize(raw)
            raw.with_suffix(".summary.txt").write_text(summary + "\n", encoding="utf-8")
    return bot1 - bot0, self1 - self0, threads, summary


# --- printing ------------------------------------------------------------------------------
_HEAD = (
    f"{'bot':<40} {'upd/s':>7} {'p50ms':>7} {'p95ms':>7} {'p99ms':>8} {'maxms':>8} "
    f"{'n':>6} {'lost':>4} {'peakMB':>7} {'dbMB':>7} {'cold s':>6} "
    f"{'cpu ms/u':>8} {'bot%':>5} {'harn%':>5}"
)


def _row(f: Figures) -> str:
    return (
        f"{f.bot:<40} {f.updates_per_s:7.1f} {f.p50_ms:7.1f} {f.p95_ms:7.1f} {f.p99_ms:8.1f} "
        f"{f.max_ms:8.1f} {f.answered:6d} {f.unanswered:4d} {f.peak_rss_mb:7.1f} "
        f"{f.db_mb:7.1f} {f.cold_start_s:6.2f} {f.bot_cpu_ms_per_update:8.2f} "
        f"{f.bot_cpu_pct:5.0f} {f.harness_cpu_pct:5.0f}"
    )


def _notes(f: Figures) -> str:
    parts = [f"code {f.code}", f"presses {f.presses}"]
    if f.presses:
        parts.append(
            f"texts p50 {f.text_p50_ms:.1f} p99 {f.text_p99_ms:.1f} ms, "
            f"presses p99 {f.press_p99_ms:.1f} ms"
        )
    if f.skipped_arrivals or f.pacing_lag_p99_ms:
        parts.append(
            f"skipped arrivals {f.skipped_arrivals}, pacing lag p99 {f.pacing_lag_p99_ms:.1f} ms"
        )
    if f.db_start_mb:
        parts.append(f"db at start {f.db_start_mb:.1f} MB")
    if f.prefill_s:
        parts.append(f"history built in {f.prefill_s:.0f} s")
    if f.extra_messages:
        parts.append(f"extra sendMessage {f.extra_messages}")
    if f.standin_errors:
        parts.append(f"stand-in error answers {f.standin_errors}")
    busy = {k: v for k, v in f.thread_cpu_ms_per_update.items() if v >= 0.01}
    if busy:
        parts.append(f"bot CPU ms/update by thread {busy}")
    sends = {k: v for k, v in f.methods.items() if k != "getupdates"}
    parts.append(f"calls {sends} getUpdates {f.methods.get('getupdates', 0)}")
    return "    " + "; ".join(parts)


def _ratio_line(ours: Figures, echo: Figures) -> str:
    tput = ours.updates_per_s / echo.updates_per_s if echo.updates_per_s else math.nan
    p99 = ours.p99_ms / echo.p99_ms if echo.p99_ms else math.nan
    slow = 1 / tput if tput else math.inf
    return (
        f"    ratio {ours.bot}/echo: throughput {tput:.2f} (echo/ours {slow:.2f}), "
        f"p99 {p99:.2f}{_texts_only(ours, echo)}   [target: echo/ours throughput <= "
        f"{TARGET_RATIO}, p99 ours/echo <= {TARGET_RATIO}]"
    )


def _texts_only(ours: Figures, echo: Figures) -> str:
    """Echo answers texts only; ours also gets button presses (three calls each)."""
    if not ours.presses or not echo.p99_ms:
        return ""
    return f" (texts only {ours.text_p99_ms / echo.p99_ms:.2f})"


def _report(title: str, results: list[Figures]) -> None:
    print(f"\n== {title}")
    print(_HEAD)
    for f in results:
        print(_row(f))
        print(_notes(f))
        if f.profile:
            print("    py-spy profile:\n      " + f.profile.replace("\n", "\n      "))
    echo = next((f for f in results if f.bot == "echo"), None)
    if echo is not None:
        for f in results:
            if f is not echo and not f.bot.startswith("echo"):
                print(_ratio_line(f, echo))
    sys.stdout.flush()


# --- suites --------------------------------------------------------------------------------
def suite(name: str) -> list[Scenario]:
    if name == "quick":
        return [
            Scenario("flat", 20, duration=5, warmup=2),
            Scenario("paced", 50, duration=5, warmup=1, rate=10, history=500),
        ]
    if name == "scale10k":
        return [Scenario("paced", 10_000, duration=345, warmup=2, rate=30)]  # each acts once
    if name == "diagnose":
        return [
            Scenario(
                "flat",
                100,
                duration=20,
                bots=("ours", "echo", "ours-serial", "ours-httpx", "ours-syncnormal"),
            ),
            Scenario("flat", 100, duration=20, bots=("echo-aiohttp", "echo")),
        ]
    return [
        Scenario("flat", 100, duration=30),
        Scenario("flat", 1000, duration=30),
        Scenario("paced", 1000, duration=60, rate=30, history=10_000),
        Scenario("paced", 1000, duration=60, rate=30, history=100_000),
    ]


async def run_all(scenarios: list[Scenario], opts: Options) -> list[Figures]:
    everything: list[Figures] = []
    echo_cache: dict[Scenario, Figures] = {}
    for scenario in scenarios:
        results: list[Figures] = []
        for key in scenario.bots:
            kind = BOTS[key]
            target = scenario.for_echo() if not kind.uses_db else scenario
            if key == "echo" and target in echo_cache:
                results.append(replace(echo_cache[target], scenario=scenario.title))
                continue
            print(f"-- {scenario.title}: {kind.label} ...", flush=True)
            figures = await run_one(target, kind, opts)
            figures.scenario = scenario.title
            if key == "echo":
                echo_cache[target] = figures
            results.append(figures)
            print(_row(figures), flush=True)
        if "echo" not in scenario.bots:
            cached = echo_cache.get(scenario.for_echo())
            if cached is not None:
                results.append(replace(cached, scenario=scenario.title))
        _report(scenario.title, results)
        everything += results
    return everything


def _targets(results: list[Figures]) -> None:
    print("\n== targets")
    ours = [f for f in results if f.bot == "ours"]
    if ours:
        colds = sorted(f.cold_start_s for f in ours)
        mark = "ok" if colds[-1] <= TARGET_COLD_S else "MISS"
        print(
            f"cold start <= {TARGET_COLD_S} s: median {colds[len(colds) // 2]:.2f} s, "
            f"worst {colds[-1]:.2f} s over {len(colds)} starts -> {mark}"
        )
    for f in ours:
        if "paced 30/s, 1,000 workers, 100,000 stored" in f.scenario:
            mark = "ok" if f.p99_ms <= TARGET_P99_MS else "MISS"
            print(f"p99 <= {TARGET_P99_MS:g} ms ({f.scenario}): {f.p99_ms:.1f} ms -> {mark}")
        if "10,000 workers" in f.scenario:
            mark = "ok" if f.peak_rss_mb <= TARGET_RSS_MB else "MISS"
            print(f"RSS <= {TARGET_RSS_MB:g} MB ({f.scenario}): {f.peak_rss_mb:.1f} MB -> {mark}")
    by_scenario: dict[str, dict[str, Figures]] = {}
    for f in results:
        by_scenario.setdefault(f.scenario, {})[f.bot] = f
    for title, group in by_scenario.items():
        echo, mine = group.get("echo"), group.get("ours")
        if echo is None or mine is None or not mine.updates_per_s:
            continue
        slow = echo.updates_per_s / mine.updates_per_s
        p99 = mine.p99_ms / echo.p99_ms if echo.p99_ms else math.nan
        mark = "ok" if slow <= TARGET_RATIO and p99 <= TARGET_RATIO else "MISS"
        print(
            f"ratio <= {TARGET_RATIO} ({title}): echo/ours {slow:.2f}, "
            f"p99 {p99:.2f}{_texts_only(mine, echo)} -> {mark}"
        )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suite", choices=("default", "scale10k", "diagnose", "quick"), default="default"
    )
    parser.add_argument("--mode", choices=("flat", "paced"), help="run one scenario instead")
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--rate", type=float, default=30.0, help="updates/s (paced)")
    parser.add_argument("--history", type=int, default=0, help="stored answers to pre-fill")
    parser.add_argument("--think-ms", type=float, default=0.0, help="think time (flat out)")
    parser.add_argument(
        "--bots", default="ours,echo", help=f"comma-separated, of: {', '.join(BOTS)}"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reply-timeout", type=float, default=120.0, help="per update, s")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cache", action="store_true", help="always rebuild history")
    parser.add_argument("--workdir", type=Path, help="where run folders go (default: tmp)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy our bot into DIR")
    parser.add_argument("--keep", action="store_true", help="keep run folders (db, logs)")
    parser.add_argument("--json", type=Path, help="also write all figures as JSON here")
    args = parser.parse_args(argv)
    for key in args.bots.split(","):
        if key not in BOTS:
            parser.error(f"unknown bot {key!r}; choose from {', '.join(BOTS)}")
    if args.workers < 1 or args.duration <= 0 or args.rate <= 0 or args.history < 0:
        parser.error("workers, duration and rate must be positive, history not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.mode:
        scenarios = [
            Scenario(
                args.mode,
                args.workers,
                duration=args.duration,
                warmup=args.warmup,
                rate=args.rate if args.mode == "paced" else 0.0,
                history=args.history,
                think=args.think_ms / 1000,
                bots=tuple(args.bots.split(",")),
            )
        ]
    else:
        scenarios = suite(args.suite)
    opts = Options(
        seed=args.seed,
        reply_timeout=args.reply_timeout,
        cache_dir=None if args.no_cache else args.cache_dir,
        workdir=args.workdir,
        profile_dir=args.profile,
        keep=args.keep,
    )
    started = time.perf_counter()
    results = asyncio.run(run_all(scenarios, opts))
    _targets(results)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps([asdict(f) for f in results], indent=1, default=str), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
