"""Reflections as readers see them: Telegram HTML messages, Markdown and JSON documents. Pure.

The same functions render the worker's own view, the share preview and the supervisor's view,
so the preview is exactly what the supervisor will see.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.prompts import PromptSet
from bot.storage import Entry, Reflection, ScalePoint, SharedItem

HELSINKI = ZoneInfo("Europe/Helsinki")
# Telegram's limit is 4096 UTF-16 code units of visible text; keep a margin for joins.
MESSAGE_LIMIT = 3900
FIRST_WORDS = 60
SPARK = "▁▂▃▄▅▆▇█"
GAP = "·"


def u16len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def local_time(iso: str, texts: PromptSet) -> str:
    """A stored UTC time in Helsinki time, in the language's own date format."""
    moment = datetime.fromisoformat(iso).astimezone(HELSINKI)
    return moment.strftime(texts.text("date_format"))


def theme_label(reflection: Reflection, texts: PromptSet) -> str:
    if reflection.kind == "future":
        return texts.text("future_label")
    theme = texts.theme(reflection.theme) if reflection.theme else None
    return theme.label if theme else texts.text("no_theme")


def title(reflection: Reflection, texts: PromptSet) -> str:
    return f"{local_time(reflection.started_at, texts)} · {theme_label(reflection, texts)}"


def _heading(reflection: Reflection, texts: PromptSet, worker_name: str | None) -> str:
    """The title line, with the worker's name first where a supervisor reads it."""
    heading = title(reflection, texts)
    return f"{worker_name} · {heading}" if worker_name else heading


def first_words(text: str, limit: int = FIRST_WORDS) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return f"{cut}…"


def _chunks(text: str, limit: int) -> list[str]:
    """Split a long text at spaces where possible, each chunk within `limit` code units."""
    result: list[str] = []
    rest = text
    while u16len(rest) > limit:
        cut = limit
        while u16len(rest[:cut]) > limit:
            cut -= 1
        space = rest.rfind(" ", 0, cut)
        if space > limit // 2:
            cut = space
        result.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        result.append(rest)
    return result


def pack(pieces: Iterable[tuple[str, str]], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join (visible text, HTML) pieces into messages whose visible text stays under `limit`."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for visible, markup in pieces:
        length = u16len(visible)
        if current and size + 2 + length > limit:
            messages.append("\n\n".join(current))
            current, size = [], 0
        current.append(markup)
        size += length + (2 if size else 0)
    if current:
        messages.append("\n\n".join(current))
    return messages


def _entry_pieces(entries: Sequence[Entry], texts: PromptSet) -> list[tuple[str, str]]:
    pieces: list[tuple[str, str]] = []
    for entry in entries:
        question = entry.question
        if entry.continued:
            question = f"{texts.text('continued_label')} {question}"
        pieces.append((question, f"<i>{html.escape(question)}</i>"))
        for chunk in _chunks(entry.answer, MESSAGE_LIMIT - 200):
            pieces.append((chunk, html.escape(chunk)))
    return pieces


def reflection_messages(
    reflection: Reflection,
    entries: Sequence[Entry],
    texts: PromptSet,
    *,
    worker_name: str | None = None,
) -> list[str]:
    """A reflection as Telegram HTML messages (parse_mode HTML), everything escaped."""
    heading = _heading(reflection, texts, worker_name)
    pieces = [(heading, f"<b>{html.escape(heading)}</b>"), *_entry_pieces(entries, texts)]
    return pack(pieces)


def summary_line(number: int, reflection: Reflection, first: str, texts: PromptSet) -> str:
    """One line of the worker's list: number, date, theme, first words, sharing state."""
    status = ""
    if reflection.shared_at:
        status = f" · {texts.text('shared_mark')}"
        if reflection.opened_at:
            status += (
                f" ({texts.text('opened_mark', date=local_time(reflection.opened_at, texts))})"
            )
    return f"{number}. {title(reflection, texts)}{status}\n   “{first_words(first)}”"


def sparkline(values: Sequence[int | None]) -> str:
    """Scale answers 0–10 as ▁…█ on an absolute scale; a reflection without one shows as ·."""
    return "".join(GAP if v is None else SPARK[min(7, max(0, round(v * 7 / 10)))] for v in values)


def _short_date(iso: str) -> str:
    moment = datetime.fromisoformat(iso).astimezone(HELSINKI)
    return f"{moment.day}.{moment.month}.{moment.year}"


def trend_lines(points: Sequence[ScalePoint], texts: PromptSet) -> list[str]:
    """One line per theme that has scale answers: sparkline, then first and last value."""
    by_theme: dict[str | None, list[ScalePoint]] = {}
    for point in points:
        by_theme.setdefault(point.theme, []).append(point)
    lines = []
    for theme, series in by_theme.items():
        values = [p.scale for p in series]
        given = [p for p in series if p.scale is not None]
        if not given:
            continue
        found = texts.theme(theme) if theme else None
        label = found.label if found else texts.text("no_theme")
        first, last = given[0], given[-1]
        span = (
            f"{_short_date(first.started_at)} {first.scale}"
            if first is last
            else f"{_short_date(first.started_at)} {first.scale} → "
            f"{_short_date(last.started_at)} {last.scale}"
        )
        lines.append(f"{label}: {sparkline(values)}  ({span})")
    return lines


def _markdown_reflection(
    reflection: Reflection,
    entries: Sequence[Entry],
    texts: PromptSet,
    worker_name: str | None = None,
) -> list[str]:
    lines = [f"## {_heading(reflection, texts, worker_name)}", ""]
    if reflection.shared_at:
        lines += [f"_{texts.text('shared_mark')} {local_time(reflection.shared_at, texts)}_", ""]
    for entry in entries:
        question = entry.question
        if entry.continued:
            question = f"{texts.text('continued_label')} {question}"
        lines.append(f"**{_md(question)}**")
        lines.append("")
        lines.extend(f"> {_md(line)}" if line else ">" for line in entry.answer.splitlines())
        lines.append("")
    return lines


def _md(text: str) -> str:
    """Escape the Markdown characters that could turn a worker's words into markup."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|~" else c for c in text)


def export_markdown(
    items: Sequence[tuple[Reflection, Sequence[Entry]]], texts: PromptSet, exported_at: str
) -> str:
    lines = [f"# {texts.text('export_title')}", "", f"_{local_time(exported_at, texts)}_", ""]
    for reflection, entries in items:
        lines += _markdown_reflection(reflection, entries, texts)
    return "\n".join(lines).rstrip() + "\n"


def export_json(
    items: Sequence[tuple[Reflection, Sequence[Entry]]], user_id: int, exported_at: str
) -> str:
    """Everything as machine-readable JSON (times in UTC, ISO 8601)."""
    data = {
        "format": "tyonohjausbotti-export/1",
        "user_id": user_id,
        "exported_at": exported_at,
        "reflections": [
            {
                "id": r.id,
                "theme": r.theme,
                "status": r.status,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "shared_at": r.shared_at,
                "opened_by_supervisor_at": r.opened_at,
                "entries": [
                    {
                        "question_id": e.question_id,
                        "stage": e.stage,
                        "question": e.question,
                        "answer": e.answer,
                        "scale": e.scale,
                        "continued": e.continued,
                        "created_at": e.created_at,
                    }
                    for e in entries
                ],
            }
            for r, entries in items
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def digest_markdown(
    items: Sequence[SharedItem], texts: PromptSet, since: str | None, made_at: str
) -> str:
    """The supervisor's digest: shared reflections grouped per worker."""
    period = (
        texts.text("digest_since", date=local_time(since, texts))
        if since
        else texts.text("digest_all")
    )
    lines = [
        f"# {texts.text('digest_title')}",
        "",
        f"_{period} · {local_time(made_at, texts)}_",
        "",
    ]
    current: int | None = None
    for item in items:
        if item.worker_id != current:
            current = item.worker_id
            lines += [f"# {_md(item.worker_name or texts.text('worker_unnamed'))}", ""]
        lines += _markdown_reflection(item.reflection, item.entries, texts)
    return "\n".join(lines).rstrip() + "\n"
