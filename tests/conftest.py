"""Shared fixtures: the shipped prompt files, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.prompts import PromptSet, load_prompts

ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = ROOT / "prompts"


@pytest.fixture(scope="session")
def prompt_sets() -> dict[str, PromptSet]:
    return load_prompts(PROMPTS_DIR)


@pytest.fixture(scope="session")
def fi(prompt_sets: dict[str, PromptSet]) -> PromptSet:
    return prompt_sets["fi"]
