"""Entry point: `python -m bot` runs the bot; `python -m bot try` chats in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.prompts import PromptError, PromptSet, load_prompts
from bot.safety import SAFETY_FILE, Safety, load_safety


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event (our messages are key=value)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    """Our events at the chosen level; libraries that could print tokens or texts kept quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler])  # a no-op where logging is set up
    logging.getLogger().setLevel(level)
    # httpx logs each request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # python-telegram-bot prints whole updates (with message text) at DEBUG.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (answer texts) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


WEBHOOK_PATH = "telegram"


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config_file=config)
    except ConfigError as exc:
        print(f"Configuration problems:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _content(settings: Settings) -> tuple[dict[str, PromptSet], Safety]:
    try:
        return load_prompts(settings.prompts_dir), load_safety(settings.prompts_dir / SAFETY_FILE)
    except PromptError as exc:
        print(f"Prompt file problems:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--config", type=Path, help="YAML settings file (default config.yaml)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot with long polling (the default)")
    tryout = sub.add_parser("try", help="chat with the dialogue engine in this terminal")
    tryout.add_argument("--lang", default=None, help="fi, sv or en")
    sub.add_parser("check", help="validate settings and prompt files, then exit")
    sub.add_parser("keygen", help="print a new master key for BOT_MASTER_KEY")
    backup = sub.add_parser("backup", help="copy the database safely while the bot runs")
    backup.add_argument("target", type=Path, help="new file to write, e.g. backup.sqlite3")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        from bot.crypto import generate

        print(generate())
        return 0

    settings = _settings(args.config)
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "backup":
        from bot.backup import BackupError, backup_database

        try:
            result = backup_database(settings.database, args.target)
        except (BackupError, sqlite3.Error) as exc:
            print(f"Backup failed: {exc}", file=sys.stderr)
            return 1
        print(
            f"Backed up {settings.database} to {result.path}: {result.bytes} bytes, "
            f"{result.pages} pages, integrity {result.integrity}. Keep the master key "
            f"({settings.key_file} or BOT_MASTER_KEY) in a separate safe place: the copy "
            "cannot be read without it."
        )
        return 0
    prompts, safety = _content(settings)

    if args.command == "try":
        from bot.tryout import run_tryout

        language = args.lang or settings.default_language
        if language not in prompts:
            print(f"No prompts for {language!r}; have {', '.join(prompts)}", file=sys.stderr)
            return 2
        return run_tryout(prompts[language])
    if args.command == "check":
        print(f"Settings ok; prompts ok: {', '.join(sorted(prompts))}")
        return 0

    try:
        settings.require_token()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    from bot.crypto import CryptoError, MasterKey
    from bot.telegram.app import build_application

    log = logging.getLogger(__name__)
    try:
        master, created = MasterKey.from_settings(settings.master_key, settings.key_file)
    except (CryptoError, OSError) as exc:
        print(f"Master key problem: {exc}", file=sys.stderr)
        return 2
    if created:
        log.warning(
            "master_key_created file=%s (back it up: without it the data cannot be read)",
            settings.key_file,
        )
    app = build_application(settings, prompts, master, safety)
    if settings.webhook_url and settings.webhook_secret:
        log.info(
            "bot_starting mode=webhook listen=%s port=%s",
            settings.webhook_listen,
            settings.webhook_port,
        )
        from bot.telegram.webhook import DurableWebhook

        webhook = DurableWebhook(
            app,
            url=f"{settings.webhook_url.rstrip('/')}/{WEBHOOK_PATH}",
            secret=settings.webhook_secret,
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            path=WEBHOOK_PATH,
        )
        asyncio.run(webhook.run_until_signal())
    else:
        from bot.telegram.polling import DurablePoller

        log.info("bot_starting mode=polling")
        asyncio.run(DurablePoller(app).run_until_signal())
    log.info("bot_stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
