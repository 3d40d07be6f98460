"""Prompt files: the shipped ones load; broken ones are reported with file and key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.prompts import BUTTONS, COMMANDS, TEXTS, PromptError, load_prompt_file, load_prompts
from tests.conftest import PROMPTS_DIR

FI = yaml.safe_load((PROMPTS_DIR / "fi.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: Any, name: str = "fi.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems_for(tmp_path: Path, data: Any) -> list[str]:
    with pytest.raises(PromptError) as caught:
        load_prompt_file(write(tmp_path, data))
    return caught.value.problems


def test_every_shipped_file_loads_completely() -> None:
    sets = load_prompts(PROMPTS_DIR)
    assert "fi" in sets
    for language, ps in sets.items():
        assert ps.language == language
        assert set(ps.texts) == set(TEXTS) and set(ps.buttons) == set(BUTTONS)
        assert set(ps.commands) == set(COMMANDS)
        assert [t.key for t in ps.themes] == [t.key for t in sets["fi"].themes]
        for stage, questions in ps.stages.items():
            assert questions, (language, stage)


def test_shipped_languages_share_question_ids() -> None:
    sets = load_prompts(PROMPTS_DIR)
    ids = {
        lang: {s: [q.id for q in qs] for s, qs in ps.stages.items()} for lang, ps in sets.items()
    }
    for language, stages in ids.items():
        assert stages == ids["fi"], language


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["stages"]["echo"][2].update(text="Kerro lisää."),
            "fi.yaml: stages.echo[2].text: must contain {phrase}",
        ),
        (
            lambda d: d["stages"]["resources"][0].update(text="Mitä {nimi} sanoisi?"),
            "fi.yaml: stages.resources[0].text: unknown placeholder {nimi}",
        ),
        (
            lambda d: d["stages"]["agency"][1].update(text="Miksi teit niin?"),
            "fi.yaml: stages.agency[1].text: contains 'miksi'",
        ),
        (
            lambda d: d["stages"]["closing"][1].update(id=d["stages"]["closing"][0]["id"]),
            "fi.yaml: stages.closing[1].id: 'close-take' is already used at stages.closing[0]",
        ),
        (lambda d: d["stages"].pop("perspectives"), "fi.yaml: stages.perspectives: missing"),
        (lambda d: d["texts"].pop("help"), "fi.yaml: texts.help: missing"),
        (lambda d: d["buttons"].update(skip=""), "fi.yaml: buttons.skip: must be a non-empty"),
        (lambda d: d["themes"][3].update(key="ei käy"), "fi.yaml: themes[3].key: must be"),
        (
            lambda d: d["stages"]["scaling_followup"][0].update(text="Mikä vie kohtaan {n}?"),
            "fi.yaml: stages.scaling_followup[0].text: must contain {below}",
        ),
        (lambda d: d.update(stopwords=[True, "ja"]), "fi.yaml: stopwords: must be a list"),
        (
            lambda d: d["stages"]["echo"][0].update(cue="iloinen"),
            "fi.yaml: stages.echo[0].cue: unknown cue 'iloinen'",
        ),
        (lambda d: d.update(language="sv"), "fi.yaml: language: must be 'fi'"),
    ],
)
def test_broken_file_names_the_key_path(tmp_path: Path, mutate: Any, expected: str) -> None:
    data = copy.deepcopy(FI)
    mutate(data)
    problems = problems_for(tmp_path, data)
    assert any(expected in p for p in problems), problems
    assert all(p.split(": ", 1)[0].endswith("fi.yaml") for p in problems)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    data = copy.deepcopy(FI)
    data["texts"].pop("intro")
    data["stages"]["echo"][0]["text"] = "Ei lainausta."
    problems = problems_for(tmp_path, data)
    assert any("texts.intro" in p for p in problems)
    assert any("stages.echo[0].text" in p for p in problems)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "fi.yaml"
    path.write_text("language: fi\nstages: [\n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"fi.yaml: line \d+, column \d+"):
        load_prompt_file(path)


def test_missing_finnish_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"fi\.yaml: missing"):
        load_prompts(tmp_path)
