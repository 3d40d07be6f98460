"""Load and validate prompts/<lang>.yaml into frozen dataclasses; errors name file and key path."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

# Stage names in the order a reflection may use them; each maps to the placeholders it may use.
STAGES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "opening": frozenset(),
        "echo": frozenset({"phrase"}),
        "resources": frozenset(),
        "scaling": frozenset(),
        "scaling_followup": frozenset({"n", "below"}),
        "scaling_zero": frozenset(),
        "scaling_step": frozenset({"above"}),
        "scaling_top": frozenset(),
        "perspectives": frozenset(),
        "agency": frozenset(),
        "closing": frozenset(),
        "future": frozenset(),
        "future_review": frozenset(),
    }
)
# Placeholders a stage's questions must all contain.
REQUIRED_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "echo": frozenset({"phrase"}),
        "scaling_followup": frozenset({"n", "below"}),
        "scaling_step": frozenset({"above"}),
    }
)
BUTTONS = (
    "skip",
    "more",
    "enough",
    "contact",
    "new",
    "delete",
    "continue",
    "restart",
    "share",
    "unshare",
    "share_confirm",
    "cancel_action",
    "delete_one",
    "delete_confirm",
    "erase",
    "erase_confirm",
    "export",
    "back",
    "newer",
    "older",
    "open_shared",
    "resource_yes",
    "resource_no",
    "resource_another",
    "reminder_pause",
    "reminder_resume",
    "reminder_skip",
    "reminder_unskip",
    "reminder_remove",
)
# Command names are the same in every language; the files give their menu descriptions.
WORKER_COMMANDS = (
    "start",
    "pohdi",
    "omat",
    "yhteys",
    "peru",
    "tietosuoja",
    "vie",
    "poista",
    "voimavarat",
    "ennakointi",
    "muistutus",
    "kieli",
    "apua",
)
SUPERVISOR_COMMANDS = ("jaetut", "kooste", "kutsu")
COMMANDS = WORKER_COMMANDS + SUPERVISOR_COMMANDS
# text key -> placeholders it may use
TEXTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "intro": frozenset({"name"}),
        "help": frozenset(),
        "opening_hint": frozenset(),
        "more_invitation": frozenset(),
        "closing_enough": frozenset(),
        "finished": frozenset(),
        "resume": frozenset(),
        "resume_choice": frozenset(),
        "cancelled": frozenset(),
        "cancel_nothing": frozenset(),
        "deleted": frozenset(),
        "not_found": frozenset(),
        "stale_button": frozenset(),
        "non_text": frozenset(),
        "edited": frozenset(),
        "unknown_command": frozenset(),
        "group_only_private": frozenset(),
        "contact_card": frozenset({"name"}),
        "contact_missing": frozenset(),
        "error": frozenset(),
        "date_format": frozenset(),
        "no_theme": frozenset(),
        "continued_label": frozenset(),
        "own_list": frozenset({"page", "pages"}),
        "own_empty": frozenset(),
        "shared_mark": frozenset(),
        "opened_mark": frozenset({"date"}),
        "own_status_private": frozenset(),
        "own_status_shared": frozenset({"date"}),
        "own_status_opened": frozenset({"date", "opened"}),
        "share_preview": frozenset({"name"}),
        "share_question": frozenset(),
        "shared_done": frozenset(),
        "unshared_done": frozenset(),
        "share_not_ready": frozenset(),
        "share_unavailable": frozenset(),
        "delete_question": frozenset(),
        "nothing_changed": frozenset(),
        "erase_question": frozenset({"reflections", "answers"}),
        "erased": frozenset(),
        "export_caption": frozenset(),
        "export_empty": frozenset(),
        "export_title": frozenset(),
        "privacy": frozenset({"reflections", "answers", "shared"}),
        "not_supervisor": frozenset(),
        "supervisor_list": frozenset({"page", "pages"}),
        "supervisor_empty": frozenset(),
        "share_notification": frozenset({"name", "title"}),
        "worker_unnamed": frozenset(),
        "digest_title": frozenset(),
        "digest_since": frozenset({"date"}),
        "digest_all": frozenset(),
        "digest_caption": frozenset({"count"}),
        "digest_empty": frozenset(),
        "digest_bad_date": frozenset(),
        "invite_created": frozenset({"days", "link"}),
        "invite_welcome": frozenset(),
        "invite_invalid": frozenset(),
        "invite_only": frozenset(),
        "claim_done": frozenset(),
        "supervisor_default_name": frozenset(),
        "trend_title": frozenset(),
        "future_label": frozenset(),
        "future_replay": frozenset({"date"}),
        "resource_consent_question": frozenset(),
        "resource_consent_on": frozenset(),
        "resource_consent_off": frozenset(),
        "resource_offer": frozenset({"sentence"}),
        "resource_none": frozenset(),
        "reminder_status": frozenset({"days", "time", "timezone", "state", "next"}),
        "reminder_weekdays": frozenset(),
        "reminder_state_on": frozenset(),
        "reminder_state_paused": frozenset(),
        "reminder_state_off": frozenset(),
        "reminder_skipping": frozenset(),
        "reminder_nudge": frozenset(),
        "reminder_bad_timezone": frozenset({"zone"}),
        "reminder_removed": frozenset(),
        "trend_shared_title": frozenset(),
        "language_choose": frozenset(),
        "language_set": frozenset(),
        "safety_message": frozenset(
            {"crisis_name", "crisis_number", "crisis_hours", "fi_number", "emergency"}
        ),
    }
)
CUES = ("heavy", "success")
_MAX_TEXT = 3000  # leaves room for a quoted phrase inside Telegram's 4096-character limit


class PromptError(Exception):
    """A prompt file is missing, malformed or breaks a content rule; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Question:
    id: str
    stage: str
    text: str
    cue: str | None = None


@dataclass(frozen=True)
class Theme:
    key: str
    label: str
    invitation: str


@dataclass(frozen=True)
class PromptSet:
    """One language's questions, theme doors, buttons and user-facing texts."""

    language: str
    language_name: str
    stages: Mapping[str, tuple[Question, ...]]
    themes: tuple[Theme, ...]
    buttons: Mapping[str, str]
    commands: Mapping[str, str]
    texts: Mapping[str, str]
    stopwords: frozenset[str]
    cues: Mapping[str, tuple[str, ...]]
    style_guard: tuple[str, ...]

    def text(self, key: str, **values: str) -> str:
        """A user-facing text with its placeholders filled."""
        return self.texts[key].format(**values)

    def question(self, question_id: str) -> Question | None:
        for questions in self.stages.values():
            for question in questions:
                if question.id == question_id:
                    return question
        return None

    def theme(self, key: str) -> Theme | None:
        return next((t for t in self.themes if t.key == key), None)


class _Checker:
    """Collects problems with their key paths for one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}")

    def mapping(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            self.fail(path, "missing" if value is None else "must be a mapping")
            return {}
        return value

    def seq(self, data: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(path, "missing" if value is None else "must be a non-empty list")
            return []
        return value

    def text(self, value: Any, path: str, allowed: frozenset[str]) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "missing" if value is None else "must be a non-empty text")
            return ""
        if len(value) > _MAX_TEXT:
            self.fail(path, f"is longer than {_MAX_TEXT} characters")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            self.fail(path, f"has a broken placeholder ({exc}); write {{{{ for a literal brace")
            return value.strip()
        for field in sorted(fields - allowed):
            shown = ", ".join(f"{{{a}}}" for a in sorted(allowed)) or "none"
            self.fail(path, f"unknown placeholder {{{field}}} (allowed here: {shown})")
        return value.strip()

    def words(self, value: Any, path: str) -> tuple[str, ...]:
        """A list of words, or one text of words separated by spaces."""
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
            self.fail(
                path,
                "must be a list of words (quote yes/no/on/off, YAML reads them as true/false)",
            )
            return ()
        return tuple(w.strip().lower() for w in value)


def _questions(
    check: _Checker,
    stages: Mapping[str, Any],
    guard: tuple[str, ...],
    cues: Mapping[str, tuple[str, ...]],
) -> dict[str, tuple[Question, ...]]:
    seen: dict[str, str] = {}
    result: dict[str, tuple[Question, ...]] = {}
    for name in sorted(set(stages) - set(STAGES)):
        check.fail(f"stages.{name}", f"unknown stage (known: {', '.join(STAGES)})")
    for stage, allowed in STAGES.items():
        items = check.seq(stages, stage, f"stages.{stage}")
        questions: list[Question] = []
        for index, item in enumerate(items):
            path = f"stages.{stage}[{index}]"
            if not isinstance(item, dict):
                check.fail(path, "must be a mapping with id and text")
                continue
            qid = item.get("id")
            if not isinstance(qid, str) or not qid.strip():
                check.fail(f"{path}.id", "missing")
                qid = f"{stage}-{index}"
            elif qid in seen:
                check.fail(f"{path}.id", f"{qid!r} is already used at {seen[qid]}")
            seen[qid] = path
            text = check.text(item.get("text"), f"{path}.text", allowed)
            for needed in sorted(REQUIRED_PLACEHOLDERS.get(stage, frozenset())):
                if text and f"{{{needed}}}" not in text:
                    check.fail(f"{path}.text", f"must contain {{{needed}}}")
            lowered = text.lower()
            for word in guard:
                if word in lowered:
                    check.fail(f"{path}.text", f"contains {word!r}, which style_guard rules out")
            cue = item.get("cue")
            if cue is not None and cue not in cues:
                check.fail(f"{path}.cue", f"unknown cue {cue!r} (known: {', '.join(cues)})")
            unknown = sorted(set(item) - {"id", "text", "cue"})
            if unknown:
                check.fail(path, f"unknown key(s) {', '.join(unknown)}")
            questions.append(
                Question(id=qid, stage=stage, text=text, cue=cue if isinstance(cue, str) else None)
            )
        result[stage] = tuple(questions)
    return result


def _themes(check: _Checker, items: list[Any]) -> tuple[Theme, ...]:
    themes: list[Theme] = []
    keys: set[str] = set()
    for index, item in enumerate(items):
        path = f"themes[{index}]"
        if not isinstance(item, dict):
            check.fail(path, "must be a mapping with key, label and invitation")
            continue
        key = item.get("key")
        if not isinstance(key, str) or not key.isascii() or not key.isidentifier():
            check.fail(f"{path}.key", "must be a short ascii word (letters, digits, _)")
            key = f"theme{index}"
        elif key in keys:
            check.fail(f"{path}.key", f"{key!r} is used twice")
        keys.add(key)
        label = check.text(item.get("label"), f"{path}.label", frozenset())
        if len(label) > 40:
            check.fail(f"{path}.label", "is too long for a button (40 characters at most)")
        invitation = check.text(item.get("invitation"), f"{path}.invitation", frozenset())
        themes.append(Theme(key=key, label=label, invitation=invitation))
    return tuple(themes)


def _fixed(
    check: _Checker, data: Mapping[str, Any], section: str, allowed: Mapping[str, frozenset[str]]
) -> Mapping[str, str]:
    raw = check.mapping(data, section, section)
    values: dict[str, str] = {}
    for key, placeholders in allowed.items():
        values[key] = check.text(raw.get(key), f"{section}.{key}", placeholders)
    for key in sorted(set(raw) - set(allowed)):
        check.fail(f"{section}.{key}", "unknown key")
    return MappingProxyType(values)


def parse_prompt_set(data: Any, source: str, language: str) -> PromptSet:
    """Validate one parsed YAML document; raise PromptError listing every problem."""
    check = _Checker(source)
    if not isinstance(data, dict):
        raise PromptError([f"{source}: must be a mapping at the top level"])
    declared = data.get("language")
    if declared != language:
        check.fail("language", f"must be {language!r} to match the file name")
    name = check.text(data.get("language_name"), "language_name", frozenset())
    guard = check.words(data.get("style_guard", []), "style_guard")
    stopwords = frozenset(check.words(data.get("stopwords"), "stopwords"))
    raw_cues = check.mapping(data, "cues", "cues")
    cues: dict[str, tuple[str, ...]] = {}
    for cue in CUES:
        cues[cue] = check.words(raw_cues.get(cue), f"cues.{cue}")
    stages = _questions(check, check.mapping(data, "stages", "stages"), guard, cues)
    themes = _themes(check, check.seq(data, "themes", "themes"))
    buttons = _fixed(check, data, "buttons", {b: frozenset() for b in BUTTONS})
    for key, label in buttons.items():
        if len(label) > 40:
            check.fail(f"buttons.{key}", "is too long for a button (40 characters at most)")
    commands = _fixed(check, data, "commands", {c: frozenset() for c in COMMANDS})
    texts = _fixed(check, data, "texts", TEXTS)
    known = {
        "language",
        "language_name",
        "style_guard",
        "stopwords",
        "cues",
        "stages",
        "themes",
        "buttons",
        "commands",
        "texts",
    }
    for key in sorted(set(data) - known):
        check.fail(str(key), "unknown key")
    if check.problems:
        raise PromptError(check.problems)
    return PromptSet(
        language=language,
        language_name=name,
        stages=MappingProxyType(stages),
        themes=themes,
        buttons=buttons,
        commands=commands,
        texts=texts,
        stopwords=stopwords,
        cues=MappingProxyType(cues),
        style_guard=guard,
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_prompt_file(path: Path) -> PromptSet:
    source = _display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError([f"{source}: cannot be read ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PromptError([f"{source}: {where}{problem}"]) from exc
    return parse_prompt_set(data, source, path.stem)


def load_prompts(
    directory: Path, languages: tuple[str, ...] = ("fi", "sv", "en")
) -> dict[str, PromptSet]:
    """Load every available language file; Finnish must exist. Raises PromptError."""
    problems: list[str] = []
    result: dict[str, PromptSet] = {}
    for language in languages:
        path = directory / f"{language}.yaml"
        if not path.is_file():
            if language == "fi":
                problems.append(f"{_display(path)}: missing (Finnish is the default language)")
            continue
        try:
            result[language] = load_prompt_file(path)
        except PromptError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PromptError(problems)
    _check_same_themes(result)
    return result


def _check_same_themes(sets: Mapping[str, PromptSet]) -> None:
    base = sets.get("fi")
    if base is None:
        return
    keys = [t.key for t in base.themes]
    problems = [
        f"prompts/{lang}.yaml: themes: keys {[t.key for t in ps.themes]} differ from fi {keys}"
        for lang, ps in sets.items()
        if [t.key for t in ps.themes] != keys
    ]
    if problems:
        raise PromptError(problems)
