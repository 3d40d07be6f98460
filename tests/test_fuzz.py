"""Hypothesis-driven bad input through the real Application: nothing breaks, nothing leaks.

Each example is a short stream of updates from a few users: texts of any kind (4096 characters,
right-to-left, emoji, control characters, SQL and HTML fragments), commands known and unknown,
stickers, photos, voice, documents, edited messages, channel posts, group messages and forged
or oversized callback data. After every update: no handler error, every reply went to the user
who wrote (or to the group written in), no user's words reached another user, and every HTML
message parses. Set FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.crypto import MasterKey, generate
from bot.prompts import load_prompts
from bot.safety import SAFETY_FILE, load_safety
from bot.telegram.app import build_application
from tests.botapi_standin import _parse_html
from tests.conftest import PROMPTS_DIR
from tests.harness import settings_for
from tests.offline import RecordingRequest

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
USERS = (11, 12, 13)
SUPERVISOR = 19
FRAGMENTS = [
    "'; DROP TABLE entries; --",
    "<b>lihava</b>",
    "<script>alert(1)</script>",
    "&amp;&lt;",
    "\u202eRTL-teksti",
    "שלום עולם",
    "مرحبا",
    "😀" * 50,
    "\x00\x01\x1b[31m",
    "{phrase}",
    "{0}",
    "%s%s%n",
    "\\u0000",
    "a" * 4096,
    "ä" * 4096,
    " ",
    "\n\n\n",
    "/",
    "//",
    "@",
]
COMMANDS = [
    "/start",
    "/start abc",
    "/pohdi",
    "/yhteys",
    "/peru",
    "/apua",
    "/omat",
    "/vie",
    "/poista",
    "/tietosuoja",
    "/kieli",
    "/voimavarat",
    "/ennakointi",
    "/muistutus",
    "/muistutus X/Y",
    "/jaetut",
    "/kooste",
    "/kooste 31.2.2026",
    "/kutsu",
    "/ohjaaja",
    "/ohjaaja abc",
    "/tuntematon",
    "/start@tyonohjaus_test_bot",
    "/" + "x" * 40,
]
CALLBACKS = [
    "d:1:1:skip",
    "d:1:2:more",
    "d:1:3:enough",
    "d:1:2:s:5",
    "d:1:1:t:hyvinvointi",
    "d:2:9:go",
    "o:1",
    "o:2",
    "sh:1",
    "sc:1",
    "us:1",
    "dl:1",
    "dc:1",
    "so:1",
    "sp:0",
    "p:1",
    "rw:1",
    "rw:9",
    "rh:16",
    "rh:3",
    "rp",
    "rs",
    "rx",
    "ry",
    "rn",
    "ra",
    "ex",
    "eq",
    "ea",
    "nc",
    "c",
    "n",
    "N",
    "k",
    "l:sv",
    "l:xx",
    "x" * 64,
    "",
    "d:" + "9" * 40,
]

MEDIA: dict[str, Any] = {
    "sticker": {
        "file_id": "s",
        "file_unique_id": "s",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    },
    "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
    "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
    "document": {"file_id": "d", "file_unique_id": "d"},
    "location": {"latitude": 60.17, "longitude": 24.94},
}
counter = count()
texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(FRAGMENTS),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=4096),
)


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": f"U{uid}", "language_code": "fi"}


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    uid = draw(st.sampled_from((*USERS, SUPERVISOR)))
    user = _user(uid)
    chat = {"id": uid, "type": "private", "first_name": user["first_name"]}
    kind = draw(
        st.sampled_from(
            [
                "text",
                "text",
                "text",
                "command",
                "media",
                "edited",
                "callback",
                "callback",
                "group",
                "channel",
            ]
        )
    )
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 10_000)),
        "date": 1_700_000_000,
        "chat": chat,
        "from": user,
    }
    if kind == "text":
        # a marker of the writer lets a leak to another user be seen
        message["text"] = f"U{uid}-merkki {draw(texts)}"[:4096]
        return {"message": message}
    if kind == "command":
        text = draw(st.sampled_from(COMMANDS))
        message["text"] = text
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
        ]
        return {"message": message}
    if kind == "media":
        media = draw(st.sampled_from(sorted(MEDIA)))
        message[media] = MEDIA[media]
        if draw(st.booleans()):
            message["caption"] = f"U{uid}-merkki {draw(texts)}"[:1024]
        return {"message": message}
    if kind == "edited":
        message["text"] = f"U{uid}-merkki {draw(texts)}"[:4096]
        message["edit_date"] = 1_700_000_100
        return {"edited_message": message}
    if kind == "callback":
        data = draw(st.one_of(st.sampled_from(CALLBACKS), st.text(max_size=80)))
        return {
            "callback_query": {
                "id": str(draw(st.integers(1, 10**9))),
                "from": user,
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": draw(st.integers(1, 500)),
                    "date": 1_700_000_000,
                    "chat": chat,
                    "from": {"id": 1000, "is_bot": True, "first_name": "Testibotti"},
                    "text": draw(st.sampled_from(["", 'Aiemmin sanoit: "x"', "kysymys"])),
                },
            }
        }
    if kind == "group":
        group = {"id": -100 - uid, "type": "group", "title": "Ryhmä"}
        text = draw(st.sampled_from(["/pohdi", "/apua", "hei kaikki", "/jaetut"]))
        message.update(chat=group, text=text)
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        return {"message": message}
    channel = {"id": -1001, "type": "channel", "title": "Kanava"}
    return {
        "channel_post": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": channel,
            "text": draw(texts),
        }
    }


class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(record.getMessage())


def _target(update: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message"):
        if key in update:
            return int(update[key]["chat"]["id"])
    if "callback_query" in update:
        return int(update["callback_query"]["from"]["id"])
    return None


async def _scenario(stream: list[dict[str, Any]], tmp: Path) -> int:
    request = RecordingRequest()
    base = settings_for_offline(tmp)
    app = build_application(
        base,
        load_prompts(PROMPTS_DIR),
        MasterKey.from_text(generate()),
        load_safety(PROMPTS_DIR / SAFETY_FILE),
        request=request,
    )
    errors = ErrorCounter()
    logging.getLogger("bot").addHandler(errors)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    try:
        for number, data in enumerate(stream, start=1):
            before = len(request.sent)
            update = Update.de_json({"update_id": number, **data}, app.bot)
            await app.process_update(update)
            assert errors.errors == [], (data, errors.errors)
            target = _target(data)
            for sent in request.sent[before:]:
                if sent.method not in (
                    "sendMessage",
                    "sendContact",
                    "sendDocument",
                    "editMessageText",
                ):
                    continue
                chat_id = int(sent.params["chat_id"])
                text = str(sent.params.get("text", ""))
                is_share_notice = chat_id == SUPERVISOR and sent.method == "sendMessage"
                assert chat_id == target or is_share_notice, (data, sent)
                for other in USERS:
                    if other != chat_id:
                        assert f"U{other}-merkki" not in text or is_share_notice, (data, sent)
                if sent.params.get("parse_mode") == "HTML":
                    _parse_html(text)  # raises on anything Telegram would refuse
                assert len(text) <= 4096
            assert request.unexpected == []
    finally:
        logging.getLogger("bot").removeHandler(errors)
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
    return len(stream)


def settings_for_offline(tmp: Path):  # type: ignore[no-untyped-def]
    class _Base:
        base_url = "http://127.0.0.1:9/bot"
        base_file_url = "http://127.0.0.1:9/file/bot"

    return settings_for(
        _Base(),
        tmp / f"fuzz-{next(counter)}.sqlite3",  # type: ignore[arg-type]
        supervisor_ids=frozenset({SUPERVISOR}),
    )


TRIED = {"updates": 0, "examples": 0}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(stream=st.lists(updates(), min_size=1, max_size=25))
def test_bad_input_never_breaks_or_leaks(stream: list[dict[str, Any]], tmp_path: Path) -> None:
    TRIED["updates"] += asyncio.run(_scenario(stream, tmp_path))
    TRIED["examples"] += 1


def test_report_inputs_tried() -> None:
    print(f"\nfuzz: {TRIED['updates']} updates tried in {TRIED['examples']} examples")
    if TRIED["examples"] == 0:
        pytest.skip("the fuzz test did not run in this session")
    assert TRIED["updates"] >= TRIED["examples"]
