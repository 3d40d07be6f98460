"""The safety layer: fixed distress patterns and the help lines to offer. Pure after loading."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.prompts import PromptError, PromptSet

SAFETY_FILE = "safety.yaml"
HELP_KEYS = ("crisis_line_fi", "crisis_line_sv", "crisis_line_en", "emergency")
LANGUAGES = ("fi", "sv", "en")


@dataclass(frozen=True)
class HelpLine:
    name: str
    number: str
    hours: str
    last_verified: dt.date


@dataclass(frozen=True)
class Safety:
    patterns: tuple[re.Pattern[str], ...]
    lines: Mapping[str, HelpLine]
    last_reviewed: dt.date

    def matches(self, text: str) -> bool:
        """True when the text carries one of the fixed distress patterns (any language)."""
        lowered = text.lower()
        return any(p.search(lowered) for p in self.patterns)

    def crisis_line(self, language: str) -> HelpLine:
        return self.lines.get(f"crisis_line_{language}") or self.lines["crisis_line_fi"]

    def message(self, texts: PromptSet) -> str:
        """The caring message in the user's language, with the help lines filled in."""
        own = self.crisis_line(texts.language)
        finnish = self.lines["crisis_line_fi"]
        return texts.text(
            "safety_message",
            crisis_name=own.name,
            crisis_number=own.number,
            crisis_hours=own.hours,
            fi_number=finnish.number,
            emergency=self.lines["emergency"].number,
        )


def load_safety(path: Path) -> Safety:
    """Read and check safety.yaml; raise PromptError naming the file and key path."""
    source = str(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(
            [f"{source}: cannot be read as YAML ({exc.__class__.__name__})"]
        ) from exc
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PromptError([f"{source}: must be a mapping"])
    reviewed = data.get("last_reviewed")
    if not isinstance(reviewed, dt.date):
        problems.append(f"{source}: last_reviewed: must be a date like 2026-11-24")
    lines: dict[str, HelpLine] = {}
    raw_help: dict[str, Any] = data["help"] if isinstance(data.get("help"), dict) else {}
    for key in HELP_KEYS:
        item = raw_help.get(key)
        path_ = f"help.{key}"
        if not isinstance(item, dict):
            problems.append(f"{source}: {path_}: missing")
            continue
        values = {f: item.get(f) for f in ("name", "number", "hours")}
        for field, value in values.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{source}: {path_}.{field}: must be a non-empty text")
        verified = item.get("last_verified")
        if not isinstance(verified, dt.date):
            problems.append(f"{source}: {path_}.last_verified: must be a date like 2026-11-24")
            continue
        lines[key] = HelpLine(
            str(values["name"]), str(values["number"]), str(values["hours"]), verified
        )
    patterns: list[re.Pattern[str]] = []
    raw_patterns: dict[str, Any] = (
        data["patterns"] if isinstance(data.get("patterns"), dict) else {}
    )
    for language in LANGUAGES:
        items = raw_patterns.get(language)
        if not isinstance(items, list) or not items:
            problems.append(f"{source}: patterns.{language}: must be a non-empty list")
            continue
        for index, pattern in enumerate(items):
            try:
                patterns.append(re.compile(str(pattern), re.IGNORECASE))
            except re.error as exc:
                problems.append(f"{source}: patterns.{language}[{index}]: {exc}")
    if problems:
        raise PromptError(problems)
    assert isinstance(reviewed, dt.date)
    return Safety(tuple(patterns), MappingProxyType(lines), reviewed)
