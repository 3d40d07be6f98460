"""Settings: environment and YAML file, every problem listed, token never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

TOKEN = "123456:TEST-token-for-offline-tests-only"


def test_defaults_without_token_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.token is None
    assert settings.default_language == "fi"
    assert settings.api_base_url.startswith("https://")
    with pytest.raises(ConfigError, match="@BotFather"):
        settings.require_token()


def test_environment_values(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_DATABASE": str(tmp_path / "x.sqlite3"),
            "SUPERVISOR_PHONE": "+358 40 095 9474",
            "SUPERVISOR_NAME": "Maija Ohjaaja",
            "SUPERVISOR_IDS": "42, 43",
            "BOT_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "BOT_DEFAULT_LANGUAGE": "EN",
        }
    )
    assert settings.require_token() == TOKEN
    assert settings.supervisor_phone == "+358400959474"
    assert settings.supervisor_ids == frozenset({42, 43})
    assert settings.default_language == "en"
    assert settings.api_base_url == "http://127.0.0.1:8081/bot"


def test_yaml_file_and_env_override(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "token: '111111:file-token-file-token-file-token'\n"
        "supervisor_phone: '+358400959474'\n"
        "supervisor_ids: [5]\n",
        encoding="utf-8",
    )
    settings = load_settings(env={"BOT_CONFIG": str(config), "SUPERVISOR_IDS": "6"})
    assert settings.token == "111111:file-token-file-token-file-token"
    assert settings.supervisor_ids == frozenset({6})


def test_every_problem_is_listed_and_token_not_shown(tmp_path: Path) -> None:
    bad_token = "not-a-token-secret-value"
    with pytest.raises(ConfigError) as caught:
        load_settings(
            env={
                "TELEGRAM_BOT_TOKEN": bad_token,
                "SUPERVISOR_PHONE": "0400 123",
                "SUPERVISOR_IDS": "12,abc",
                "BOT_DEFAULT_LANGUAGE": "de",
                "BOT_PROMPTS_DIR": str(tmp_path / "missing"),
                "BOT_API_BASE_URL": "ftp://x",
                "BOT_LOG_LEVEL": "LOUD",
            }
        )
    message = str(caught.value)
    for name in (
        "token",
        "supervisor_phone",
        "supervisor_ids",
        "default_language",
        "prompts_dir",
        "api_base_url",
        "log_level",
    ):
        assert f"{name}:" in message
    assert len(caught.value.problems) == 7
    assert bad_token not in message


def test_unknown_key_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("tokn: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env={}, config_file=config)
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(env={"BOT_CONFIG": str(tmp_path / "nope.yaml")})


def test_tracked_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.yaml"
    settings = load_settings(env={}, config_file=example)
    assert settings.supervisor_phone == "+358400959474"
    assert settings.token is None


def test_deploy_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "deploy" / "config.example.yaml"
    text = example.read_text(encoding="utf-8")
    text = text.replace("/var/lib/tyonohjausbotti", str(tmp_path))
    text = text.replace("replace-with-the-token-from-BotFather", "A" * 35)
    local = tmp_path / "config.yaml"
    local.write_text(text, encoding="utf-8")
    settings = load_settings(env={}, config_file=local)
    assert settings.log_format == "json" and settings.webhook_url is None


def test_webhook_needs_https_and_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"BOT_WEBHOOK_URL": "http://bot.example.fi"})
    text = str(caught.value)
    assert "https://" in text and "webhook_secret: required" in text
    settings = load_settings(
        env={
            "BOT_WEBHOOK_URL": "https://bot.example.fi",
            "BOT_WEBHOOK_SECRET": "s3cret_-X",
            "BOT_WEBHOOK_PORT": "9000",
        }
    )
    assert settings.webhook_port == 9000 and settings.webhook_secret == "s3cret_-X"
