"""`python -m bot` as a real process: runs against the stand-in, stops cleanly, leaks nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from bot.crypto import MasterKey, generate
from bot.storage import Storage
from tests.botapi_standin import BotApiStandIn, FakeUser
from tests.conftest import PROMPTS_DIR, ROOT
from tests.harness import TOKEN

WORKER = FakeUser(id=901, first_name="Eero", language_code="fi")
HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def spawn(cwd: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """`python -m bot ARGS` as a child process with its output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


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
        BOT_MASTER_KEY=generate(),
        PYTHONPATH=str(ROOT),
    )
    return env


async def stored_answers(database: Path, master_key: str) -> list[str]:
    """WORKER's answers as stored in a database file, read with the bot's master key."""
    store = Storage(database, MasterKey.from_text(master_key))
    await store.open()
    try:
        return [e.answer for _, es in await store.everything(WORKER.id) for e in es]
    finally:
        await store.close()


async def test_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        process = await spawn(tmp_path, bot_env(standin, tmp_path / "b.db"))
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
    process = await spawn(tmp_path, {**env, "PYTHONPATH": str(ROOT)})
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert b"@BotFather" in err and b"python -m bot try" in err


async def test_bad_prompt_file_stops_start_with_its_path(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    text = (PROMPTS_DIR / "fi.yaml").read_text(encoding="utf-8")
    (prompts / "fi.yaml").write_text(text.replace('"{phrase}"', '"x"', 1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    process = await spawn(
        tmp_path, {**env, "PYTHONPATH": str(ROOT), "BOT_PROMPTS_DIR": str(prompts)}, "check"
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert b"fi.yaml: stages.echo[0].text: must contain {phrase}" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_text(update_id: int, text: str) -> dict[str, object]:
    """A webhook body: a private text message from WORKER."""
    message: dict[str, object] = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "text": text,
        "chat": {"id": WORKER.id, "type": "private", "first_name": "Eero"},
        "from": {"id": WORKER.id, "is_bot": False, "first_name": "Eero", "language_code": "fi"},
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def test_webhook_mode_requires_the_secret_and_answers_after_handling(
    tmp_path: Path,
) -> None:
    port = free_port()
    secret = "only-telegram-knows-this"
    database = tmp_path / "w.db"
    async with BotApiStandIn(token=TOKEN) as standin:
        env = bot_env(standin, database)
        env.update(
            BOT_WEBHOOK_URL="https://bot.example.invalid",
            BOT_WEBHOOK_SECRET=secret,
            BOT_WEBHOOK_LISTEN="127.0.0.1",
            BOT_WEBHOOK_PORT=str(port),
        )
        process = await spawn(tmp_path, env)
        try:
            hook = await standin.wait_call("setWebhook", timeout=20)
            assert hook.params["url"] == "https://bot.example.invalid/telegram"
            assert hook.params["secret_token"] == secret
            standin.send_text(WORKER, "/start")  # makes the chat known; webhook mode never polls
            url = f"http://127.0.0.1:{port}/telegram"
            signed = {HEADER: secret}
            async with aiohttp.ClientSession() as session:

                async def post(body: object, headers: dict[str, str]) -> int:
                    async with session.post(url, json=body, headers=headers) as response:
                        return response.status

                help_ = private_text(77, "/apua")
                assert await post(help_, {}) == 403
                assert await post(help_, {HEADER: "wrong"}) == 403
                assert await post(help_, signed) == 200
                # 200 came only after handling: the reply is already at the stand-in
                (reply,) = await standin.wait_outgoing(WORKER.id, timeout=0)
                assert "Näin tämä toimii" in reply["text"]
                assert await post(["not", "an", "update"], signed) == 400
                async with session.post(url, data=b"{", headers=signed) as response:
                    assert response.status == 400
                answer = private_text(78, "Webhook-vastaus tallessa kerran")
                assert await post(answer, signed) == 200
                assert await post(answer, signed) == 200  # Telegram delivering it again
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    logs = (out + err).decode()
    assert process.returncode == 0, logs
    assert secret not in logs and "Webhook-vastaus" not in logs
    assert "webhook_refused reason=secret" in logs and "storage_closed" in logs
    answers = await stored_answers(database, env["BOT_MASTER_KEY"])
    assert answers.count("Webhook-vastaus tallessa kerran") == 1


async def test_backup_copies_a_live_database(tmp_path: Path) -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        env = bot_env(standin, tmp_path / "live.db")
        process = await spawn(tmp_path, env)
        try:
            await standin.wait_call("getUpdates", timeout=20)
            standin.send_text(WORKER, "Varmuuskopioitava vastaus")
            await standin.wait_outgoing(WORKER.id, timeout=10)
            backup = await spawn(tmp_path, env, "backup", str(tmp_path / "copy.db"))
            out, err = await asyncio.wait_for(backup.communicate(), timeout=20)
            assert backup.returncode == 0, err.decode()
            assert b"integrity ok" in out
            again = await spawn(tmp_path, env, "backup", str(tmp_path / "copy.db"))
            _, err = await asyncio.wait_for(again.communicate(), timeout=20)
            assert again.returncode == 1 and b"already exists" in err
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), timeout=20)
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o077 == 0
    assert await stored_answers(copy, env["BOT_MASTER_KEY"]) == ["Varmuuskopioitava vastaus"]
