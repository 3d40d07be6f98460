"""Start a bot as its own process and watch it: memory from /proc, CPU time, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def code_fingerprint() -> str:
    """Git HEAD plus a hash of the bot's files as they are on disk (the tree may be dirty)."""
    digest = hashlib.sha256()
    for path in sorted([*REPO.glob("bot/**/*.py"), *REPO.glob("prompts/*")]):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(  # noqa: S603 - fixed command
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        head = ""
    return f"{head or 'no-git'}+{digest.hexdigest()[:10]}"


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a live process; empty once it has gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time per thread of a process, keyed by "name tid"."""
    times: dict[str, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return times
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as handle:
                raw = handle.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rpartition(")")[2].split()
        times[f"{name} {tid}"] = (int(fields[11]) + int(fields[12])) / _TICKS
    return times


def self_cpu_seconds() -> float:
    return time.process_time()


@dataclass
class BotProcess:
    """`python -m <module>` with the given environment, stderr kept in a log file."""

    module: str
    env: dict[str, str]
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    peak_rss_kb: int = 0
    samples: list[int] = field(default_factory=list)
    _sampler: asyncio.Task[None] | None = None

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),
            **self.env,
        }
        log = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", self.module],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._sampler = asyncio.create_task(self._sample())

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def _sample(self, every: float = 0.25) -> None:
        while self.alive():
            status = proc_status(self.pid)
            if status:
                self.samples.append(status.get("VmRSS", 0))
                self.peak_rss_kb = max(self.peak_rss_kb, status.get("VmHWM", 0))
            await asyncio.sleep(every)

    def memory(self) -> tuple[int, int]:
        """Current RSS and peak RSS (VmHWM) in kB, read now."""
        status = proc_status(self.pid)
        if status:
            self.peak_rss_kb = max(self.peak_rss_kb, status.get("VmHWM", 0))
            return status.get("VmRSS", 0), self.peak_rss_kb
        return 0, self.peak_rss_kb

    async def stop(self, timeout: float = 20.0) -> int | None:  # noqa: ASYNC109
        """SIGINT (PTB stops polling, closes storage), then SIGKILL after `timeout`."""
        if self.process is None:
            return None
        if self.alive():
            self.process.send_signal(signal.SIGINT)
        try:
            code = await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = await asyncio.to_thread(self.process.wait, 5)
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        return code

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
