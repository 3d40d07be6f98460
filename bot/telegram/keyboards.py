"""Inline keyboards for engine turns, and the short callback-data codec.

Callback data (64 bytes at most, always re-checked against the pressing user on the server):
- ``d:<reflection>:<turn>:<action>`` a dialogue button;
- ``<kind>:<number>``: ``p`` own list page, ``o`` open own, ``sh`` share preview, ``sc`` share
  confirmed, ``us`` unshare, ``dl`` delete asked, ``dc`` delete confirmed, ``sp`` shared list
  page, ``so`` open shared, ``rw`` reminder weekday, ``rh`` reminder hour;
- a bare kind: ``c`` contact card, ``n`` new reflection, ``N`` restart, ``k`` continue, ``ex``
  export, ``eq`` erase asked, ``ea`` erase confirmed, ``nc`` nothing changed, ``ry``/``rn``
  resource bank consent given/withdrawn, ``ra`` another own sentence, ``rp`` pause reminders,
  ``rs`` skip the next reminder, ``rx`` remove reminders;
- ``l:<language>`` choose the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.dialogue import Button, Turn

_DIALOGUE = re.compile(r"^d:(\d{1,12}):(\d{1,6}):([a-z]{1,8}|[ts]:[a-z0-9_]{1,30})$")
_ITEM = re.compile(r"^(p|o|sh|sc|us|dl|dc|sp|so|rw|rh):(\d{1,12})$")
_LANGUAGE = re.compile(r"^l:([a-z]{2})$")
SIMPLE_KINDS = frozenset(
    {"c", "n", "N", "k", "ex", "eq", "ea", "nc", "ry", "rn", "ra", "rp", "rs", "rx"}
)
SIMPLE = {"contact": "c", "new": "n"}


@dataclass(frozen=True)
class DialoguePress:
    reflection_id: int
    turn: int
    action: str


@dataclass(frozen=True)
class SimplePress:
    kind: str


@dataclass(frozen=True)
class ItemPress:
    kind: str
    number: int


@dataclass(frozen=True)
class LanguagePress:
    language: str


Callback = DialoguePress | SimplePress | ItemPress | LanguagePress


def parse_callback(data: str | None) -> Callback | None:
    """Decode callback data; None for anything we did not make."""
    if not data or len(data) > 64:
        return None
    if data in SIMPLE_KINDS:
        return SimplePress(data)
    match = _DIALOGUE.match(data)
    if match:
        return DialoguePress(int(match[1]), int(match[2]), match[3])
    match = _ITEM.match(data)
    if match:
        return ItemPress(match[1], int(match[2]))
    match = _LANGUAGE.match(data)
    if match:
        return LanguagePress(match[1])
    return None


def _data(button: Button, reflection_id: int | None, turn: int) -> str:
    if button.action in SIMPLE:
        return SIMPLE[button.action]
    if button.action == "share":
        return f"sh:{reflection_id}"
    return f"d:{reflection_id}:{turn}:{button.action}"


def markup(turn: Turn, reflection_id: int | None, number: int) -> InlineKeyboardMarkup | None:
    """The keyboard of one turn, its buttons pointing at this reflection and turn number."""
    if not turn.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, callback_data=_data(b, reflection_id, number))
                for b in row
            ]
            for row in turn.buttons
        ]
    )


def simple_markup(*rows: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup:
    """A keyboard from (label, callback data) pairs."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )
