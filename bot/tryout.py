"""`python -m bot try`: the same dialogue engine in the terminal, no token, nothing saved."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from bot.dialogue import Answer, Button, Engine, Step, Turn, parse_action
from bot.prompts import PromptSet

QUIT = ("/q", "/quit", "/lopeta")


def _show(turns: tuple[Turn, ...], out: Callable[[str], None]) -> list[Button]:
    buttons: list[Button] = []
    for turn in turns:
        out(f"\nbotti> {turn.text}")
        for row in turn.buttons:
            labels = []
            for button in row:
                buttons.append(button)
                labels.append(f"[/{len(buttons)}] {button.label}")
            out("       " + "   ".join(labels))
    return buttons


def run_tryout(
    prompts: PromptSet,
    read: Callable[[str], str] = input,
    out: Callable[[str], None] = print,
    seed: int | None = None,
) -> int:
    """Chat in the terminal until the reflection ends or the user quits."""
    engine = Engine(prompts)
    out(
        "Kokeilutila: mitään ei tallenneta. Painikkeen saat kirjoittamalla /numero, "
        "lopetus /q. | Try mode: nothing is saved; /number presses a button, /q quits."
    )
    step: Step = engine.start(secrets.randbelow(2**31) if seed is None else seed)
    buttons = _show(step.turns, out)
    while not step.state.finished:
        try:
            line = read("sinä> ").strip()
        except EOFError:
            break
        if line in QUIT:
            break
        if line.startswith("/") and line[1:].isdigit():
            index = int(line[1:]) - 1
            event = parse_action(buttons[index].action) if 0 <= index < len(buttons) else None
            if event is None:
                out("(ei sellaista painiketta / no such button)")
                continue
            step = engine.handle(step.state, event)
        else:
            step = engine.handle(step.state, Answer(line))
        buttons = _show(step.turns, out)
    return 0
