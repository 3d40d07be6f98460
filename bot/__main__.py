"""Entry point: `python -m bot` runs the bot; `python -m bot try` chats in the terminal."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.prompts import PromptError, PromptSet, load_prompts
from bot.safety import SAFETY_FILE, Safety, load_safety


def setup_logging(level: str) -> None:
    """Our events at the chosen level; libraries that could print tokens or texts kept quiet."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s", level=level)
    # httpx logs each request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # python-telegram-bot prints whole updates (with message text) at DEBUG.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (answer texts) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


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
    args = parser.parse_args(argv)
    if args.command == "keygen":
        from bot.crypto import generate

        print(generate())
        return 0

    settings = _settings(args.config)
    setup_logging(settings.log_level)
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
    from telegram import Update

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
    log.info("bot_starting database=%s", settings.database)
    app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
