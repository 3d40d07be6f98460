"""`python -m bot` as a real process: runs against the stand-in, stops cleanly, leaks nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.botapi_standin import BotApiStandIn, FakeUser
from tests.conftest import PROMPTS_DIR, ROOT
from tests.harness import TOKEN

WORKER = FakeUser(id=901, first_name="Eero", language_code="fi")


def bot_env(standin: BotApiStandIn, database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        BOT_DATABASE=str(database),
        BOT_PROMPTS_DIR=str(PROMPTS_DIR),
        BOT_API_BASE_URL=standin.base_url,
        BOT_API_FILE_URL=standin.base_file_url,
        SUPERVISOR_PHONE="+358400959474",
        BOT_LOG_LEVEL="DEBUG",
        PYTHONPATH=str(ROOT),
    )
    return env


async def test_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=bot_env(standin, tmp_path / "b.db"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await standin.wait_call("getUpdates", timeout=20)
            standin.send_text(WORKER, "/start")
            intro, opening = await standin.wait_outgoing(WORKER.id, 2, timeout=10)
            assert "Eero" in intro["text"]
            assert opening["reply_markup"]["inline_keyboard"]  # theme doors
            standin.send_text(WORKER, "Yksityinen-vastaus-77 kertoo työstäni")
            (echo,) = await standin.wait_outgoing(WORKER.id, timeout=10)
            assert "Yksityinen-vastaus" in echo["text"]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    logs = (out + err).decode()
    assert process.returncode == 0, logs
    assert "storage_closed" in logs
    assert "Yksityinen-vastaus" not in logs
    assert TOKEN.split(":")[1] not in logs


async def test_without_token_it_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert b"@BotFather" in err and b"python -m bot try" in err


async def test_bad_prompt_file_stops_start_with_its_path(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    text = (PROMPTS_DIR / "fi.yaml").read_text(encoding="utf-8")
    (prompts / "fi.yaml").write_text(text.replace('"{phrase}"', '"x"', 1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "BOT_PROMPTS_DIR": str(prompts)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert b"fi.yaml: stages.echo[0].text: must contain {phrase}" in err
