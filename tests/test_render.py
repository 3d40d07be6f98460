"""Rendering: escaping, splitting under Telegram's limit, Markdown and JSON exports."""

from __future__ import annotations

import html
import json
import re

from bot import render
from bot.prompts import PromptSet
from bot.storage import Entry, Reflection

REFLECTION = Reflection(
    id=3,
    user_id=7,
    theme="onnistuminen",
    status="finished",
    state="{}",
    started_at="2026-11-24T10:05:00+00:00",
    ended_at="2026-11-24T10:20:00+00:00",
    shared_at="2026-11-24T10:21:00+00:00",
    opened_at=None,
)


def entry(n: int, answer: str, question: str = "Mikä onnistui?", continued: bool = False) -> Entry:
    return Entry(
        n, 3, f"q{n}", "opening", question, answer, None, continued, "2026-11-24T10:06:00+00:00"
    )


def visible(markup: str) -> str:
    return html.unescape(re.sub(r"</?[bi]>", "", markup))


def test_title_uses_helsinki_time_and_theme(fi: PromptSet) -> None:
    assert render.title(REFLECTION, fi) == "24.11.2026 klo 12.05 · Onnistuminen"


def test_html_is_escaped_and_worker_name_shown(fi: PromptSet) -> None:
    answer = "<script>alert(1)</script> & <b>lihavoitu</b>"
    (message,) = render.reflection_messages(
        REFLECTION, [entry(1, answer)], fi, worker_name="Aino <3"
    )
    assert "<script>" not in message and "&lt;script&gt;" in message
    assert visible(message).startswith("Aino <3 · 24.11.2026")
    assert answer in visible(message)


def test_long_reflections_split_under_the_limit(fi: PromptSet) -> None:
    long_answer = ("Sana " * 900).strip()  # 4499 characters
    emoji_answer = "😊" * 3000  # 6000 UTF-16 code units
    entries = [entry(1, long_answer), entry(2, emoji_answer), entry(3, "lyhyt", continued=True)]
    messages = render.reflection_messages(REFLECTION, entries, fi)
    assert len(messages) >= 3
    for message in messages:
        assert render.u16len(visible(message)) <= 4096
    joined = visible("\n\n".join(messages))
    assert joined.count("Sana") == 900 and joined.count("😊") == 3000
    assert "(jatkoa) Mikä onnistui?" in joined


def test_summary_line_marks_sharing_and_opening(fi: PromptSet) -> None:
    line = render.summary_line(1, REFLECTION, "Asiakas kiitti pitkästä aikaa " * 5, fi)
    assert line.startswith("1. 24.11.2026 klo 12.05 · Onnistuminen · jaettu työnohjaajalle")
    assert line.endswith("…”")
    opened = Reflection(**{**REFLECTION.__dict__, "opened_at": "2026-11-25T08:00:00+00:00"})
    assert "avattu 25.11.2026" in render.summary_line(1, opened, "x", fi)


def test_exports_keep_words_exact(fi: PromptSet) -> None:
    answer = "Rivi 1 *ei lihavointia*\n\nRivi 3 [linkki](http://x)"
    items = [(REFLECTION, [entry(1, answer)])]
    markdown = render.export_markdown(items, fi, "2026-11-24T12:00:00+00:00")
    assert markdown.startswith("# Omat pohdintani")
    assert "> Rivi 1 \\*ei lihavointia\\*" in markdown and ">\n> Rivi 3 \\[linkki\\]" in markdown
    data = json.loads(render.export_json(items, 7, "2026-11-24T12:00:00+00:00"))
    assert data["reflections"][0]["entries"][0]["answer"] == answer
    assert data["reflections"][0]["shared_at"] == REFLECTION.shared_at


def test_sparkline_edges() -> None:
    assert render.sparkline([]) == ""
    assert render.sparkline([5]) == "▅"
    assert render.sparkline([0, 10]) == "▁█"
    assert render.sparkline([6, 6, 6]) == "▅▅▅"  # all equal stays at its own level
    assert render.sparkline([2, None, 8]) == "▂·▇"


def test_trend_lines_per_theme(fi: PromptSet) -> None:
    from bot.storage import ScalePoint

    points = [
        ScalePoint("hyvinvointi", "2026-11-01T08:00:00+00:00", 4),
        ScalePoint(None, "2026-11-02T08:00:00+00:00", None),
        ScalePoint("hyvinvointi", "2026-11-10T08:00:00+00:00", None),
        ScalePoint("hyvinvointi", "2026-11-20T08:00:00+00:00", 7),
        ScalePoint("onnistuminen", "2026-11-21T08:00:00+00:00", 9),
    ]
    assert render.trend_lines(points, fi) == [
        "Työhyvinvointi: ▄·▆  (1.11.2026 4 → 20.11.2026 7)",
        "Onnistuminen: ▇  (21.11.2026 9)",
    ]
