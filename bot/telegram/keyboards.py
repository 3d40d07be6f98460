"""Inline keyboards for engine turns, and the short callback-data codec.

Callback data (64 bytes at most, always re-checked against the pressing user on the server):
``d:<reflection>:<turn>:<action>`` a dialogue button, ``c`` contact card, ``n`` new reflection,
``N`` restart (end the active one), ``k`` continue the active one, ``x:<reflection>`` delete one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.dialogue import Button, Turn

_DIALOGUE = re.compile(r"^d:(\d{1,12}):(\d{1,6}):([a-z]{1,8}|[ts]:[a-z0-9_]{1,30})$")
_DELETE = re.compile(r"^x:(\d{1,12})$")
SIMPLE = {"contact": "c", "new": "n"}


@dataclass(frozen=True)
class DialoguePress:
    reflection_id: int
    turn: int
    action: str


@dataclass(frozen=True)
class SimplePress:
    kind: str  # one of "c", "n", "N", "k"


@dataclass(frozen=True)
class DeletePress:
    reflection_id: int


Callback = DialoguePress | SimplePress | DeletePress


def parse_callback(data: str | None) -> Callback | None:
    """Decode callback data; None for anything we did not make."""
    if not data or len(data) > 64:
        return None
    if data in ("c", "n", "N", "k"):
        return SimplePress(data)
    match = _DIALOGUE.match(data)
    if match:
        return DialoguePress(int(match[1]), int(match[2]), match[3])
    match = _DELETE.match(data)
    if match:
        return DeletePress(int(match[1]))
    return None


def _data(button: Button, reflection_id: int | None, turn: int) -> str:
    if button.action in SIMPLE:
        return SIMPLE[button.action]
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
