"""Durability under SIGKILL: a short run of scripts/crash_test.py against the real bot process.

The full run is `python -m scripts.crash_test --kills 200 --workers 20 --seed 1`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.crash_test import CrashConfig, run


@pytest.mark.timeout(90)
async def test_answers_survive_kills_exactly_once(tmp_path: Path) -> None:
    lines: list[str] = []
    config = CrashConfig(
        kills=8,
        workers=4,
        seed=20261124,
        max_uptime=1.2,
        max_arm_delay=0.8,
        trigger_timeout=1.5,
        reply_timeout=5.0,
        final_timeout=15.0,
        time_limit=45.0,
        workdir=tmp_path,
        log=lines.append,
    )
    report = await run(config)
    details = "\n".join([*lines, *report.findings, report.summary()])
    assert report.violations == [], f"{report.violations}\n{details}"
    assert report.kills == 8
    assert report.restarts == 8
    assert report.integrity == "ok"
    assert report.duplicates == 0
    assert report.missing == 0
    assert report.resume_failures == 0
    assert report.acknowledged > 0
    assert report.stored >= report.acknowledged
