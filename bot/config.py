"""Settings from environment variables and an optional YAML file; fail fast on every problem."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"
DEFAULT_DATABASE = Path("data") / "tyonohjaus.sqlite3"
DEFAULT_KEY_FILE = Path("data") / "master.key"
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_API_FILE_URL = "https://api.telegram.org/file/bot"
SUPPORTED_LANGUAGES = ("fi", "sv", "en")

_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# setting name -> environment variable; the YAML file uses the setting names as keys
ENV_VARS: Mapping[str, str] = {
    "token": "TELEGRAM_BOT_TOKEN",
    "database": "BOT_DATABASE",
    "prompts_dir": "BOT_PROMPTS_DIR",
    "default_language": "BOT_DEFAULT_LANGUAGE",
    "supervisor_name": "SUPERVISOR_NAME",
    "supervisor_phone": "SUPERVISOR_PHONE",
    "supervisor_ids": "SUPERVISOR_IDS",
    "api_base_url": "BOT_API_BASE_URL",
    "api_file_url": "BOT_API_FILE_URL",
    "log_level": "BOT_LOG_LEVEL",
    "master_key": "BOT_MASTER_KEY",
    "key_file": "BOT_KEY_FILE",
    "invite_only": "BOT_INVITE_ONLY",
    "api_timeout": "BOT_API_TIMEOUT",
    "webhook_url": "BOT_WEBHOOK_URL",
    "webhook_secret": "BOT_WEBHOOK_SECRET",
    "webhook_listen": "BOT_WEBHOOK_LISTEN",
    "webhook_port": "BOT_WEBHOOK_PORT",
    "log_format": "BOT_LOG_FORMAT",
}
CONFIG_FILE_ENV = "BOT_CONFIG"
DEFAULT_CONFIG_FILE = Path("config.yaml")


class ConfigError(Exception):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to run; built once at start-up."""

    token: str | None
    database: Path
    prompts_dir: Path
    default_language: str
    supervisor_name: str
    supervisor_phone: str | None
    supervisor_ids: frozenset[int]
    api_base_url: str
    api_file_url: str
    log_level: str
    master_key: str | None = None
    key_file: Path = DEFAULT_KEY_FILE
    invite_only: bool = False
    api_timeout: float = 10.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    log_format: str = "text"

    def require_token(self) -> str:
        """Return the token or raise a ConfigError that says how to get one."""
        if not self.token:
            raise ConfigError(
                [
                    "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather in Telegram, "
                    "then run: export TELEGRAM_BOT_TOKEN='123456:ABC...' (or put token: in "
                    "config.yaml, see config.example.yaml). To try the conversation without "
                    "Telegram, run: python -m bot try"
                ]
            )
        return self.token


def _read_file(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror})")
        return {}
    except yaml.YAMLError as exc:
        problems.append(f"{path}: is not valid YAML ({exc.__class__.__name__})")
        return {}
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{path}: must be a mapping of setting: value")
        return {}
    unknown = sorted(str(k) for k in raw if k not in ENV_VARS)
    if unknown:
        problems.append(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(ENV_VARS)}"
        )
    return {k: v for k, v in raw.items() if k in ENV_VARS}


def _gather(
    env: Mapping[str, str], config_file: Path | None, problems: list[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    explicit = config_file or (Path(env[CONFIG_FILE_ENV]) if env.get(CONFIG_FILE_ENV) else None)
    if explicit is not None:
        if not explicit.is_file():
            problems.append(f"{explicit}: config file not found ({CONFIG_FILE_ENV})")
        else:
            values.update(_read_file(explicit, problems))
    elif DEFAULT_CONFIG_FILE.is_file():
        values.update(_read_file(DEFAULT_CONFIG_FILE, problems))
    for name, var in ENV_VARS.items():
        if env.get(var, "").strip():
            values[name] = env[var].strip()
    return values


def _parse_ids(raw: Any, problems: list[str]) -> frozenset[int]:
    if raw is None or raw == "":
        return frozenset()
    items: list[Any]
    if isinstance(raw, int):
        items = [raw]
    elif isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list):
        items = raw
    else:
        problems.append("supervisor_ids: must be a list of Telegram user ids")
        return frozenset()
    ids: set[int] = set()
    for item in items:
        try:
            value = int(item)
        except (TypeError, ValueError):
            problems.append(f"supervisor_ids: {item!r} is not a Telegram user id (digits only)")
            continue
        if value <= 0:
            problems.append(f"supervisor_ids: {value} is not a positive user id")
        ids.add(value)
    return frozenset(ids)


def _number(value: Any, name: str, low: float, high: float, problems: list[str]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(f"{name}: {value!r} is not a number")
        return low
    if not low <= number <= high:
        problems.append(f"{name}: {number:g} must be between {low:g} and {high:g}")
    return number


def _url(value: Any, name: str, problems: list[str]) -> str:
    text = str(value)
    if not re.match(r"^https?://[^\s/]+", text):
        problems.append(f"{name}: {text!r} must start with http:// or https://")
    return text


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build Settings; raise ConfigError naming every bad or missing value."""
    env = os.environ if env is None else env
    problems: list[str] = []
    values = _gather(env, config_file, problems)

    token = values.get("token")
    if token is not None:
        token = str(token).strip()
        if not _TOKEN_RE.match(token):
            problems.append(
                "token: does not look like a bot token from @BotFather (digits:letters); "
                "the value is not shown here"
            )

    language = str(values.get("default_language", "fi")).lower()
    if language not in SUPPORTED_LANGUAGES:
        problems.append(
            f"default_language: {language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}"
        )

    phone_raw = values.get("supervisor_phone")
    phone: str | None = None
    if phone_raw is not None:
        phone = re.sub(r"[\s()-]", "", str(phone_raw))
        if not _PHONE_RE.match(phone):
            problems.append(
                f"supervisor_phone: {phone_raw!r} must be in international form, "
                "e.g. +358400959474"
            )

    level = str(values.get("log_level", "INFO")).upper()
    if level not in _LOG_LEVELS:
        problems.append(f"log_level: {level!r} is not one of {', '.join(_LOG_LEVELS)}")

    prompts_dir = Path(str(values.get("prompts_dir", DEFAULT_PROMPTS_DIR)))
    if not prompts_dir.is_dir():
        problems.append(f"prompts_dir: {prompts_dir} is not a directory")

    master_key = values.get("master_key")
    if master_key is not None and not re.match(r"^[A-Za-z0-9_-]{43}=$", str(master_key)):
        problems.append(
            "master_key: must be 32 bytes in url-safe base64 (44 characters, as printed by "
            "python -m bot keygen); the value is not shown here"
        )
    invite_raw = str(values.get("invite_only", "false")).strip().lower()
    if invite_raw not in ("true", "false", "1", "0", "yes", "no"):
        problems.append(f"invite_only: {invite_raw!r} must be true or false")

    api_timeout = _number(values.get("api_timeout", 10), "api_timeout", 0.5, 120, problems)
    port = int(_number(values.get("webhook_port", 8443), "webhook_port", 1, 65535, problems))
    webhook_url = values.get("webhook_url")
    webhook_secret = values.get("webhook_secret")
    if webhook_url is not None:
        webhook_url = _url(webhook_url, "webhook_url", problems)
        if not str(webhook_url).startswith("https://"):
            problems.append("webhook_url: Telegram only calls https:// addresses")
        if webhook_secret is None:
            problems.append(
                "webhook_secret: required with webhook_url, so that only Telegram can post "
                "updates (1-256 characters: A-Z, a-z, 0-9, _ and -)"
            )
    if webhook_secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", str(webhook_secret)):
        problems.append("webhook_secret: 1-256 characters of A-Z, a-z, 0-9, _ and -; not shown")
    log_format = str(values.get("log_format", "text")).lower()
    if log_format not in ("text", "json"):
        problems.append(f"log_format: {log_format!r} must be text or json")

    name = str(values.get("supervisor_name", "")).strip()
    settings = Settings(
        token=token or None,
        database=Path(str(values.get("database", DEFAULT_DATABASE))),
        prompts_dir=prompts_dir,
        default_language=language,
        supervisor_name=name,
        supervisor_phone=phone,
        supervisor_ids=_parse_ids(values.get("supervisor_ids"), problems),
        api_base_url=_url(
            values.get("api_base_url", DEFAULT_API_BASE_URL), "api_base_url", problems
        ),
        api_file_url=_url(
            values.get("api_file_url", DEFAULT_API_FILE_URL), "api_file_url", problems
        ),
        log_level=level,
        master_key=str(master_key) if master_key is not None else None,
        key_file=Path(str(values.get("key_file", DEFAULT_KEY_FILE))),
        invite_only=invite_raw in ("true", "1", "yes"),
        api_timeout=api_timeout,
        webhook_url=str(webhook_url) if webhook_url is not None else None,
        webhook_secret=str(webhook_secret) if webhook_secret is not None else None,
        webhook_listen=str(values.get("webhook_listen", "127.0.0.1")),
        webhook_port=port,
        log_format=log_format,
    )
    if problems:
        raise ConfigError(problems)
    return settings
