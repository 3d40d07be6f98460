"""Sample a running bot with py-spy and summarise where its time goes.

py-spy (``pip install py-spy``, in the ``dev`` extra) attaches to the bot's process id for the
measurement window and writes collapsed stacks (``--format raw``), one line per distinct stack:
``thread;frame;frame;... count``. ``summarize`` turns that into self and inclusive shares per
function and per library, which is what the report quotes.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
# Leaf frames where a thread waits rather than works (py-spy --idle keeps them).
_IDLE = (
    ("EpollSelector.select", "selectors.py", None),
    ("_connection_worker_thread", "aiosqlite/core.py", "59"),  # tx.get(): the queue is empty
    ("Condition.wait", "threading.py", None),
    ("_worker", "concurrent/futures/thread.py", None),
)
BUCKETS = (
    ("bot (this project)", ("bot/",)),
    ("telegram (PTB)", ("telegram/",)),
    ("httpx/httpcore/h11", ("httpx/", "httpcore/", "h11/", "anyio/")),
    ("aiosqlite + sqlite3", ("aiosqlite/", "sqlite3/")),
    ("cryptography", ("cryptography/",)),
    ("json", ("json/",)),
    ("asyncio + selectors", ("asyncio/", "selectors.py")),
    ("logging", ("logging/",)),
)


_PLUMBING = frozenset(
    {
        "<module>",
        "_run_module_as_main",
        "_run_code",
        "main",
        "run_polling",
        "Application.run_polling",
        "Application.__run",
        "BaseEventLoop.run_until_complete",
        "BaseEventLoop.run_forever",
        "BaseEventLoop._run_once",
        "Handle._run",
        "Thread._bootstrap",
        "Thread._bootstrap_inner",
        "Thread.run",
        "_connection_worker_thread",
        "Task.__step",
        "Task.__wakeup",
        "run",
    }
)


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


async def record(pid: int, seconds: float, out: Path) -> asyncio.subprocess.Process | None:
    """Start sampling `pid` for `seconds`; the caller awaits `.wait()` on the result."""
    binary = py_spy()
    if binary is None:
        print("py-spy not found: pip install py-spy (the dev extra has it)", file=sys.stderr)
        return None
    return await asyncio.create_subprocess_exec(
        binary,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "200",
        "--idle",
        "--threads",
        "--format",
        "raw",
        "-o",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def _module(file: str) -> str:
    return file.split("site-packages/")[-1].split("/python3.11/")[-1]


def _bucket(file: str) -> str:
    module = _module(file)
    for name, prefixes in BUCKETS:
        if any(module.startswith(p) or f"/{p}" in module for p in prefixes):
            return name
    return "other"


def _parse(line: str) -> tuple[str, list[tuple[str, str]], bool, int] | None:
    """Thread, frames (function, module file), whether the leaf is an idle wait, count."""
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    parts = stack.split(";")
    thread, frames = parts[0], []
    idle = False
    for part in parts[1:]:
        match = _FRAME.match(part)
        if match:
            name, file = match["name"], _module(match["file"])
            frames.append((name, file))
            idle = any(
                name == n and file.endswith(f) and (ln is None or match["line"] == ln)
                for n, f, ln in _IDLE
            )
    return thread, frames, idle, int(count)


def summarize(raw: Path, top: int = 18) -> str:
    """Self and inclusive time per function, and self time per library, as text."""
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    idle: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        parsed = _parse(line)
        if parsed is None:
            continue
        thread, frames, waiting, count = parsed
        if not frames:
            continue
        label = re.sub(r"^thread \(\d+\):\s*", "", thread).strip() or thread
        if waiting:
            idle[label] += count
            continue
        total += count
        threads[label] += count
        name, file = frames[-1]
        self_fn[f"{name} ({file})"] += count
        buckets[_bucket(file)] += count
        for key in {f"{n} ({f})" for n, f in frames}:
            incl_fn[key] += count
    if total == 0:
        return "no samples"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f}%"

    lines = [f"{total} busy samples (shares below are of these; idle waits left out)"]
    lines.append(
        "busy/idle samples by thread: "
        + ", ".join(f"{t} {n}/{idle[t]}" for t, n in threads.most_common(4))
    )
    lines.append("self time by library:")
    lines += [f"  {pct(n)}  {name}" for name, n in buckets.most_common()]
    lines.append(f"top {top} functions by self time:")
    lines += [f"  {pct(n)}  {name}" for name, n in self_fn.most_common(top)]
    ours = [(k, n) for k, n in incl_fn.most_common() if "(bot/" in k]
    lines.append(f"top {top} functions of this project by inclusive time:")
    lines += [f"  {pct(n)}  {name}" for name, n in ours[:top]]
    lines.append(f"top {top} functions overall by inclusive time (loop plumbing left out):")
    shown = [(k, n) for k, n in incl_fn.most_common() if k.split(" (")[0] not in _PLUMBING]
    lines += [f"  {pct(n)}  {name}" for name, n in shown[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1])))
