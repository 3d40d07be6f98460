"""Local stand-in for the Telegram Bot API HTTP server, for end-to-end tests of PTB bots.

The stand-in is an aiohttp.web server bound to 127.0.0.1 on a free port. An unmodified
python-telegram-bot ``Application`` talks to it when built with
``.base_url(standin.base_url).base_file_url(standin.base_file_url)``.

The test plays the user side: it injects updates (``send_text``, ``press`` ...) that the bot
fetches with ``getUpdates``, and it observes what the bot sent (``outbox``, ``wait_outgoing``,
``wait_call``). Everything runs in the test's event loop, so no locking is needed.

Simplifications: only private chats and basic groups; ``parse_mode="HTML"`` is parsed into
plain text plus entities like Telegram does, Markdown modes are stored verbatim; there are no
inline-mode, payments or media methods other than ``sendDocument``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

BOT_ID = 1000
BOT_USERNAME = "tyonohjaus_test_bot"
BOT_FIRST_NAME = "Työnohjaus Test"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_POLL_TIMEOUT = 50

JsonDict = dict[str, Any]
FaultKind = Literal["500", "timeout", "429", "403", "400"]

# Form fields that are plain strings in the Bot API. PTB sends str values unencoded and
# everything else JSON-encoded, so these must never go through json.loads ("7" stays "7").
STRING_FIELDS = frozenset(
    [
        "text",
        "caption",
        "parse_mode",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "callback_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "url",
        "action",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "query",
        "secret_token",
        "ip_address",
        "file_id",
        "document",
        "photo",
        "audio",
        "voice",
        "video",
        "sticker",
        "animation",
        "thumbnail",
        "custom_title",
        "address",
        "payload",
        "currency",
        "start_parameter",
        "question",
        "explanation",
        "game_short_name",
        "certificate",
    ]
)

INLINE_BUTTON_ACTIONS = frozenset(
    [
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ]
)

CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)

BOT_USER: JsonDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,64})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_HTML_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_TAG_RE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(.*)", re.DOTALL)
_HTML_ATTR_RE = re.compile(
    r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


@dataclass
class Call:
    """One Bot API request as received: method name as sent, decoded params, token."""

    method: str
    params: dict[str, Any]
    token: str


@dataclass
class FakeUser:
    """A Telegram user on the test side; private chat id equals the user id."""

    id: int
    first_name: str = "Testi"
    language_code: str | None = "fi"
    username: str | None = None


@dataclass
class UploadedFile:
    """A file part of a multipart request, as stored in ``Call.params``."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class _Fault:
    kind: FaultKind
    remaining: int
    retry_after: int


@dataclass
class _QueuedUpdate:
    update: JsonDict
    redelivery: bool = False
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class _ChatState:
    chat: JsonDict
    next_message_id: int = 1
    outbox: list[JsonDict] = field(default_factory=list)
    cursor: int = 0
    bot_messages: dict[int, JsonDict] = field(default_factory=dict)
    user_messages: dict[int, JsonDict] = field(default_factory=dict)

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


class _ApiError(Exception):
    """An error answer: HTTP status equals error_code, as with the real Bot API."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        malformed: bool = False,
        parameters: JsonDict | None = None,
        quiet: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.malformed = malformed
        self.parameters = parameters
        self.quiet = quiet


class _Pulse:
    """Broadcast wake-up usable from sync code: ``fire`` wakes every current waiter."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109
        event = self._event
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await event.wait()
        except TimeoutError:
            return False
        return True


def _now() -> int:
    return int(time.time())


def _u16len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _bad(description: str, *, malformed: bool = False) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}", malformed=malformed)


def _decode_field(name: str, raw: str) -> Any:
    """Decode one form value: JSON for non-string fields, raw text otherwise."""
    if name in STRING_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _public(item: JsonDict) -> JsonDict:
    """The Message dict as Telegram returns it: no private keys, only inline keyboards."""
    message = {k: v for k, v in item.items() if k != "method" and not k.startswith("_")}
    markup = message.get("reply_markup")
    if markup is not None and "inline_keyboard" not in markup:
        del message["reply_markup"]
    return message


def _html_unescape(text: str) -> str:
    return _HTML_ENTITY_RE.sub(_html_entity_char, text)


def _html_entity_char(match: re.Match[str]) -> str:
    dec, hexa, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(dec) if dec else int(hexa, 16)
    return chr(code) if 0 < code <= 0x10FFFF else match.group(0)


def _parse_html(src: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities, strict like Telegram."""
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, str | None, int, JsonDict]] = []
    entities: list[JsonDict] = []
    i = 0
    n = len(src)

    def fail(reason: str) -> _ApiError:
        return _bad(f"can't parse entities: {reason}")

    def byte_offset(index: int) -> int:
        return len(src[:index].encode())

    while i < n:
        ch = src[i]
        if ch == "<":
            end = src.find(">", i)
            if end < 0:
                raise fail(f"Unclosed start tag at byte offset {byte_offset(i)}")
            inner = src[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise fail(f"Unexpected end tag at byte offset {byte_offset(i)}")
                tag, open_kind, start, open_extra = stack.pop()
                if name != tag:
                    raise fail(
                        f'Unmatched end tag at byte offset {byte_offset(i)}, expected "</{tag}>", '
                        f'found "</{name}>"'
                    )
                if open_kind is not None and pos16 > start:
                    entity = {"type": open_kind, "offset": start, "length": pos16 - start}
                    entity.update(open_extra)
                    entities.append(entity)
            else:
                match = _HTML_TAG_RE.fullmatch(inner)
                if match is None:
                    raise fail(f'Unsupported start tag "{inner}" at byte offset {byte_offset(i)}')
                name = match.group(1).lower()
                if name not in _HTML_TAGS:
                    raise fail(f'Unsupported start tag "{name}" at byte offset {byte_offset(i)}')
                attrs = {
                    m.group(1).lower(): _html_unescape(
                        m.group(2) or m.group(3) or m.group(4) or ""
                    )
                    for m in _HTML_ATTR_RE.finditer(match.group(2))
                }
                kind: str | None = _HTML_TAGS[name]
                extra: JsonDict = {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(i)}'
                    )
                if name == "a":
                    extra["url"] = attrs.get("href", "")
                elif name == "tg-emoji":
                    extra["custom_emoji_id"] = attrs.get("emoji-id", "")
                elif name == "blockquote" and "expandable" in attrs:
                    kind = "expandable_blockquote"
                elif name == "code" and stack and stack[-1][0] == "pre":
                    language = attrs.get("class", "")
                    if language.startswith("language-"):
                        stack[-1][3]["language"] = language.removeprefix("language-")
                        kind = None
                stack.append((name, kind, pos16, extra))
            i = end + 1
        elif ch == "&":
            match_entity = _HTML_ENTITY_RE.match(src, i)
            char = _html_entity_char(match_entity) if match_entity else "&"
            out.append(char)
            pos16 += _u16len(char)
            i = match_entity.end() if match_entity else i + 1
        else:
            j = i + 1
            while j < n and src[j] not in "<&":
                j += 1
            chunk = src[i:j]
            out.append(chunk)
            pos16 += _u16len(chunk)
            i = j
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _strip_text(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Trim surrounding whitespace like Telegram does, shifting entities accordingly."""
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    lead = _u16len(text[: len(text) - len(text.lstrip())])
    size = _u16len(stripped)
    shifted: list[JsonDict] = []
    for entity in entities:
        start = min(max(entity["offset"] - lead, 0), size)
        end = min(max(entity["offset"] + entity["length"] - lead, 0), size)
        if end > start:
            shifted.append({**entity, "offset": start, "length": end - start})
    return stripped, shifted


class BotApiStandIn:
    """In-process fake of api.telegram.org for one bot, with user-side helpers."""

    def __init__(self, *, token: str | None = None, hold_seconds: float = 6.0) -> None:
        self._token = token
        self.hold_seconds = hold_seconds
        self.calls: list[Call] = []
        self.unexpected: list[Call] = []
        self.errors: list[tuple[Call, int, str]] = []
        self.webhook: JsonDict | None = None
        self.my_commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._chats: dict[int, _ChatState] = {}
        self._pending: deque[_QueuedUpdate] = deque()
        self._pending_irregular = False  # queued out of update_id order (redeliver, queue_raw)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._callbacks_pending: dict[str, JsonDict] = {}
        self._callbacks_answered: dict[str, JsonDict] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._calls_by_method: dict[str, list[Call]] = {}
        self._consumed: dict[str, set[int]] = {}
        self._first_unconsumed: dict[str, int] = {}
        self._inflight = 0
        self._parked = 0
        self._poll_generation = 0
        self._activity = 0
        self._updates_pulse = _Pulse()
        self._state_pulse = _Pulse()
        self._handlers: dict[str, Callable[[JsonDict], Any]] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendcontact": self._send_contact,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendchataction": self._send_chat_action,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind to 127.0.0.1 on a free port and start serving."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._stopping = False
        self._stop_event = asyncio.Event()

    async def stop(self) -> None:
        """Release parked long polls and held faults, then shut the server down."""
        self._stopping = True
        self._stop_event.set()
        self._updates_pulse.fire()
        self._state_pulse.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("BotApiStandIn is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------------- user side

    def send_text(self, user: FakeUser, text: str) -> JsonDict:
        """A private text message; a leading /command gets a bot_command entity."""
        fields: JsonDict = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            fields["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _u16len(match.group(0))}
            ]
        return self.send_message(user, **fields)

    def send_message(self, user: FakeUser, **fields: Any) -> JsonDict:
        """A private message with arbitrary content; media fields are completed to valid ones."""
        state = self._ensure_chat(self._private_chat(user))
        message: JsonDict = {
            "message_id": state.new_message_id(),
            "from": self._user_dict(user),
            "chat": state.chat,
            "date": _now(),
        }
        message.update(self._fill_media(fields))
        state.user_messages[message["message_id"]] = message
        return self._enqueue({"message": message})

    def send_sticker(self, user: FakeUser) -> JsonDict:
        return self.send_message(user, sticker={})

    def send_photo(self, user: FakeUser, *, caption: str | None = None) -> JsonDict:
        fields: JsonDict = {"photo": []}
        if caption is not None:
            fields["caption"] = caption
        return self.send_message(user, **fields)

    def send_voice(self, user: FakeUser, *, content: bytes = b"OggS\x00voice") -> JsonDict:
        return self.send_message(user, voice={"_bytes": content})

    def send_document(
        self,
        user: FakeUser,
        *,
        file_name: str = "liite.pdf",
        content: bytes = b"%PDF-1.4\n%stand-in\n",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> JsonDict:
        fields: JsonDict = {
            "document": {"file_name": file_name, "mime_type": mime_type, "_bytes": content}
        }
        if caption is not None:
            fields["caption"] = caption
        return self.send_message(user, **fields)

    def edit_text(self, user: FakeUser, message_id: int, text: str) -> JsonDict:
        """An edited_message update for an earlier private message of the user."""
        state = self._ensure_chat(self._private_chat(user))
        original = state.user_messages.get(message_id) or {
            "message_id": message_id,
            "from": self._user_dict(user),
            "chat": state.chat,
            "date": _now(),
        }
        edited = {k: v for k, v in original.items() if k != "entities"}
        edited.update(text=text, edit_date=_now())
        match = _COMMAND_RE.match(text)
        if match:
            edited["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _u16len(match.group(0))}
            ]
        state.user_messages[message_id] = edited
        return self._enqueue({"edited_message": edited})

    def press(self, user: FakeUser, message: JsonDict, data: str) -> JsonDict:
        """A callback_query update for a bot message; ``data`` may be anything (forged)."""
        chat_id = int(message["chat"]["id"])
        state = self._chats.get(chat_id)
        current = state.bot_messages.get(int(message["message_id"])) if state else None
        query_id = str(4_000_000_000_000_000 + next(self._callback_ids))
        query: JsonDict = {
            "id": query_id,
            "from": self._user_dict(user),
            "chat_instance": str(-(8_000_000_000_000 + abs(chat_id))),
            "message": _public(current if current is not None else message),
            "data": data,
        }
        self._callbacks_pending[query_id] = query
        return self._enqueue({"callback_query": query})

    def send_group_text(self, user: FakeUser, chat_id: int, text: str) -> JsonDict:
        """A text message from the user in a basic group chat (negative id)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        state = self._ensure_chat({"id": chat_id, "type": "group", "title": "Testiryhmä"})
        message: JsonDict = {
            "message_id": state.new_message_id(),
            "from": self._user_dict(user),
            "chat": state.chat,
            "date": _now(),
            "text": text,
        }
        match = _COMMAND_RE.match(text)
        if match:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _u16len(match.group(0))}
            ]
        state.user_messages[message["message_id"]] = message
        return self._enqueue({"message": message})

    def queue_raw(self, update: JsonDict) -> JsonDict:
        """Queue an update dict as-is (its chat becomes known); assigns update_id if missing."""
        for key in ("message", "edited_message", "channel_post", "business_message"):
            chat = update.get(key, {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                self._ensure_chat(chat)
        return self._enqueue(update)

    def redeliver(self, update: JsonDict) -> None:
        """Queue the very same update again, even if it was already acknowledged."""
        self._push(_QueuedUpdate(update, redelivery=True))

    # ----------------------------------------------------------------- bot side, observed

    def outbox(self, chat_id: int) -> list[JsonDict]:
        """Everything the bot sent into the chat, in order, with edits applied in place."""
        state = self._chats.get(chat_id)
        return list(state.outbox) if state else []

    async def wait_outgoing(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JsonDict]:
        """The next ``count`` outbox items of the chat not returned by an earlier call."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            state = self._chats.get(chat_id)
            if state is not None and len(state.outbox) - state.cursor >= count:
                items = state.outbox[state.cursor : state.cursor + count]
                state.cursor += count
                return items
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(self._outgoing_summary(chat_id, count, timeout))
            await self._state_pulse.wait(remaining)

    async def wait_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Call:
        """The first not yet consumed call of ``method`` (case-insensitive) matching."""
        key = method.lower()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            call = self._take_call(key, predicate)
            if call is not None:
                return call
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = self._calls_by_method.get(key, [])
                raise AssertionError(
                    f"no matching {method} call within {timeout} s; "
                    f"{len(seen)} {method} call(s) seen: {[c.params for c in seen[-5:]]}; "
                    f"recent calls: {self._recent_calls()}"
                )
            await self._state_pulse.wait(remaining)

    def answered_callback_ids(self) -> set[str]:
        return set(self._callbacks_answered)

    def pending_callback_ids(self) -> set[str]:
        return set(self._callbacks_pending)

    def callback_answer(self, query_id: str) -> JsonDict | None:
        """The answerCallbackQuery params for a pressed query, if answered."""
        return self._callbacks_answered.get(query_id)

    def pending_update_ids(self) -> list[int]:
        return [entry.update_id for entry in self._pending]

    async def wait_idle(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        settle: float = 0.02,
    ) -> None:
        """Until all updates are acknowledged and only a parked long poll is in flight.

        The condition must hold unchanged for ``settle`` seconds, which covers the short gap
        between the bot acknowledging an update and its next request reaching the server.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._is_idle():
                stamp = self._activity
                await asyncio.sleep(min(settle, max(deadline - loop.time(), 0.0)))
                if self._is_idle() and stamp == self._activity:
                    return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"not idle after {timeout} s: unacknowledged updates "
                    f"{self.pending_update_ids()}, {self._inflight} request(s) in flight, "
                    f"recent calls: {self._recent_calls()}"
                )
            if not self._is_idle():
                await self._state_pulse.wait(remaining)

    def inject_fault(
        self,
        method: str,
        kind: FaultKind,
        *,
        times: int = 1,
        retry_after: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``kind`` (no side effects)."""
        if kind not in ("500", "timeout", "429", "403", "400"):
            raise ValueError(f"unknown fault kind {kind!r}")
        self._faults.setdefault(method.lower(), deque()).append(_Fault(kind, times, retry_after))

    # ----------------------------------------------------------------- HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        polling = method.lower() == "getupdates"
        self._inflight += 1
        self._touch(activity=not polling)
        call = Call(method, {}, token)
        try:
            try:
                call.params = await self._read_params(request)
            finally:
                self._record(call)
            if self._token is not None and token != self._token:
                raise _ApiError(401, "Unauthorized", malformed=True)
            fault = self._take_fault(method.lower())
            if fault is not None:
                return await self._fault_response(call, fault)
            key = method.lower()
            if key == "getupdates":
                result: Any = await self._get_updates(call.params)
            else:
                handler = self._handlers.get(key)
                if handler is None:
                    raise _ApiError(404, "Not Found: method not found", malformed=True)
                result = handler(call.params)
            return self._response({"ok": True, "result": result})
        except _ApiError as exc:
            if not exc.quiet:
                self.errors.append((call, exc.status, exc.description))
            if exc.malformed:
                self.unexpected.append(call)
            body: JsonDict = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return self._response(body, exc.status)
        except Exception as exc:  # a request the stand-in could not handle is a test failure
            description = f"Internal Server Error: stand-in failed: {exc!r}"
            self.errors.append((call, 500, description))
            self.unexpected.append(call)
            return self._response(
                {"ok": False, "error_code": 500, "description": description}, 500
            )
        finally:
            self._inflight -= 1
            self._touch(activity=not polling)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if self._token is not None and request.match_info["token"] != self._token:
            return web.Response(status=401, text="Unauthorized")
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type="application/octet-stream")

    @staticmethod
    def _response(body: JsonDict, status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body, ensure_ascii=False).encode(),
            status=status,
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> JsonDict:
        params: JsonDict = {k: _decode_field(k, v) for k, v in request.query.items()}
        if not request.can_read_body:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad("can't parse JSON encoded request body", malformed=True) from exc
            if not isinstance(body, dict):
                raise _bad("JSON body must be an object", malformed=True)
            params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    params[name] = UploadedFile(
                        value.filename, value.content_type, value.file.read()
                    )
                elif isinstance(value, bytes | bytearray):
                    params[name] = _decode_field(name, value.decode())
                else:
                    params[name] = _decode_field(name, value)
        else:
            raise _bad(f"unsupported content type {ctype!r}", malformed=True)
        return params

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._calls_by_method.setdefault(call.method.lower(), []).append(call)
        self._state_pulse.fire()

    def _take_call(self, key: str, predicate: Callable[[Call], bool] | None) -> Call | None:
        calls = self._calls_by_method.get(key, [])
        consumed = self._consumed.setdefault(key, set())
        first = self._first_unconsumed.get(key, 0)
        for index in range(first, len(calls)):
            if index in consumed or (predicate is not None and not predicate(calls[index])):
                continue
            consumed.add(index)
            while first in consumed:
                consumed.discard(first)
                first += 1
            self._first_unconsumed[key] = first
            return calls[index]
        return None

    def _take_fault(self, key: str) -> _Fault | None:
        faults = self._faults.get(key)
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.popleft()
        return fault

    async def _fault_response(self, call: Call, fault: _Fault) -> web.Response:
        """Answer with the injected fault; "timeout" first holds the response.

        A held request does not count as in flight for ``wait_idle``; if the client gives up
        first, aiohttp cancels the handler (the error is recorded before holding).
        """
        parameters: JsonDict | None = None
        if fault.kind in ("timeout", "500"):
            status, description = 500, "Internal Server Error"
        elif fault.kind == "429":
            status = 429
            description = f"Too Many Requests: retry after {fault.retry_after}"
            parameters = {"retry_after": fault.retry_after}
        elif fault.kind == "403":
            status, description = 403, "Forbidden: bot was blocked by the user"
        else:
            status, description = 400, "Bad Request: injected fault"
        self.errors.append((call, status, description))
        if fault.kind == "timeout":
            self._inflight -= 1
            self._touch()
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.hold_seconds):
                        await self._stop_event.wait()
            finally:
                self._inflight += 1
        body: JsonDict = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return self._response(body, status)

    # ----------------------------------------------------------------- state helpers

    def _touch(self, *, activity: bool = True) -> None:
        """Wake state waiters; ``activity`` marks a change that restarts wait_idle's settle."""
        if activity:
            self._activity += 1
        self._state_pulse.fire()

    def _is_idle(self) -> bool:
        return not self._pending and self._inflight == 0

    def _enqueue(self, update: JsonDict) -> JsonDict:
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        self._push(_QueuedUpdate(update))
        return update

    def _push(self, entry: _QueuedUpdate) -> None:
        if entry.redelivery or (self._pending and entry.update_id <= self._pending[-1].update_id):
            self._pending_irregular = True
        self._pending.append(entry)
        self._touch()
        self._updates_pulse.fire()

    def _ensure_chat(self, chat: JsonDict) -> _ChatState:
        chat_id = int(chat["id"])
        state = self._chats.get(chat_id)
        if state is None:
            state = _ChatState(dict(chat))
            self._chats[chat_id] = state
        else:
            state.chat.update(chat)
        return state

    @staticmethod
    def _user_dict(user: FakeUser) -> JsonDict:
        data: JsonDict = {"id": user.id, "is_bot": False, "first_name": user.first_name}
        if user.username is not None:
            data["username"] = user.username
        if user.language_code is not None:
            data["language_code"] = user.language_code
        return data

    @staticmethod
    def _private_chat(user: FakeUser) -> JsonDict:
        chat: JsonDict = {"id": user.id, "type": "private", "first_name": user.first_name}
        if user.username is not None:
            chat["username"] = user.username
        return chat

    def _store_file(self, kind: str, data: bytes, suffix: str = "") -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"{kind[:2].upper()}AACAgQAAxkBAAI{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{kind}s/file_{number}{suffix}",
            data=data,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _media(self, kind: str, given: JsonDict, defaults: JsonDict, suffix: str) -> JsonDict:
        data = given.get("_bytes", b"stand-in %s" % kind.encode())
        stored = self._store_file(kind, data, suffix)
        media: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        media.update(defaults)
        media.update({k: v for k, v in given.items() if k != "_bytes"})
        return media

    def _fill_media(self, fields: JsonDict) -> JsonDict:
        """Complete partial media objects in message fields with required subfields."""
        filled = dict(fields)

        def as_dict(value: Any) -> JsonDict:
            return dict(value) if isinstance(value, dict) else {}

        if "sticker" in fields:
            filled["sticker"] = self._media(
                "sticker",
                as_dict(fields["sticker"]),
                {
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "🙂",
                },
                ".webp",
            )
        if "photo" in fields:
            sizes = fields["photo"]
            if isinstance(sizes, dict):
                sizes = [sizes]
            if not isinstance(sizes, list) or not sizes:
                sizes = [{"width": 90, "height": 67}, {"width": 1280, "height": 960}]
            filled["photo"] = [
                self._media("photo", as_dict(size), {"width": 1280, "height": 960}, ".jpg")
                for size in sizes
            ]
        if "voice" in fields:
            filled["voice"] = self._media(
                "voice",
                as_dict(fields["voice"]),
                {"duration": 3, "mime_type": "audio/ogg"},
                ".oga",
            )
        if "audio" in fields:
            filled["audio"] = self._media(
                "audio", as_dict(fields["audio"]), {"duration": 30, "mime_type": "audio/mpeg"}, ""
            )
        if "video" in fields:
            filled["video"] = self._media(
                "video",
                as_dict(fields["video"]),
                {"width": 640, "height": 360, "duration": 5, "mime_type": "video/mp4"},
                ".mp4",
            )
        if "video_note" in fields:
            filled["video_note"] = self._media(
                "video_note", as_dict(fields["video_note"]), {"length": 240, "duration": 5}, ""
            )
        if "animation" in fields:
            filled["animation"] = self._media(
                "animation",
                as_dict(fields["animation"]),
                {"width": 320, "height": 240, "duration": 2, "mime_type": "video/mp4"},
                ".mp4",
            )
        if "document" in fields:
            filled["document"] = self._media(
                "document",
                as_dict(fields["document"]),
                {"file_name": "document.bin", "mime_type": "application/octet-stream"},
                "",
            )
        if "contact" in fields:
            contact = {"phone_number": "+358401234567", "first_name": "Testi"}
            contact.update(as_dict(fields["contact"]))
            filled["contact"] = contact
        if "location" in fields:
            location = {"latitude": 60.1699, "longitude": 24.9384}
            location.update(as_dict(fields["location"]))
            filled["location"] = location
        return filled

    def _recent_calls(self, count: int = 8) -> list[str]:
        return [
            f"{c.method}({', '.join(sorted(k for k in c.params))})" for c in self.calls[-count:]
        ]

    def _outgoing_summary(self, chat_id: int, count: int, timeout: float) -> str:
        state = self._chats.get(chat_id)
        if state is None:
            return (
                f"expected {count} outgoing message(s) in chat {chat_id} within {timeout} s, "
                f"but that chat is unknown; known chats: {sorted(self._chats)}; "
                f"recent calls: {self._recent_calls()}"
            )
        new = state.outbox[state.cursor :]
        earlier = state.outbox[max(state.cursor - 3, 0) : state.cursor]
        errors = [(c.method, status, text) for c, status, text in self.errors[-5:]]
        return (
            f"expected {count} new outgoing message(s) in chat {chat_id} within {timeout} s, "
            f"got {len(new)}: {[self._describe(i) for i in new]}; "
            f"earlier: {[self._describe(i) for i in earlier]}; "
            f"unacknowledged updates: {self.pending_update_ids()}; "
            f"recent errors: {errors}; recent calls: {self._recent_calls()}"
        )

    @staticmethod
    def _describe(item: JsonDict) -> str:
        content = item.get("text", item.get("caption", ""))
        extra = ""
        if "document" in item:
            extra = f" document={item['document'].get('file_name')!r}"
        if "contact" in item:
            extra = f" contact={item['contact'].get('phone_number')!r}"
        markup = item.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        buttons = [b.get("text") if isinstance(b, dict) else b for row in rows for b in row]
        if buttons:
            extra += f" buttons={buttons}"
        return f"#{item['message_id']} {item.get('method')}: {str(content)[:80]!r}{extra}"

    # ----------------------------------------------------------------- validation

    def _chat(self, params: JsonDict) -> _ChatState:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty", malformed=True)
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            try:
                chat_id = int(str(chat_id))
            except ValueError:
                raise _bad("chat not found") from None
        state = self._chats.get(chat_id)
        if state is None:
            raise _bad("chat not found")
        return state

    @staticmethod
    def _int(params: JsonDict, name: str) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                return int(str(value))
            except ValueError:
                raise _bad(f"invalid {name} specified", malformed=True) from None
        return value

    @staticmethod
    def _markup(params: JsonDict) -> JsonDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object", malformed=True)
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "inline_keyboard" must be an Array of Arrays', malformed=True)
            for button in itertools.chain.from_iterable(rows):
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String',
                        malformed=True,
                    )
                if not INLINE_BUTTON_ACTIONS.intersection(button):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str):
                        data = json.dumps(data)
                    if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
            return markup
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "keyboard" must be an Array of Arrays', malformed=True)
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise _bad("can't parse reply keyboard markup JSON object", malformed=True)

    @staticmethod
    def _formatted(
        params: JsonDict, text_key: str, entities_key: str
    ) -> tuple[str, list[JsonDict]]:
        text = params.get(text_key, "")
        if not isinstance(text, str):
            text = json.dumps(text)
        parse_mode = params.get("parse_mode")
        if isinstance(parse_mode, str) and parse_mode.lower() == "html":
            text, entities = _parse_html(text)
        else:
            given = params.get(entities_key)
            if given is not None and not isinstance(given, list):
                raise _bad(f"can't parse {entities_key} JSON object", malformed=True)
            entities = list(given or [])
        return _strip_text(text, entities)

    def _reply_to(self, state: _ChatState, params: JsonDict) -> JsonDict | None:
        reply = params.get("reply_parameters")
        allow = bool(params.get("allow_sending_without_reply"))
        message_id: Any = params.get("reply_to_message_id")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply", allow))
        if message_id is None:
            return None
        target = state.bot_messages.get(int(message_id)) or state.user_messages.get(
            int(message_id)
        )
        if target is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return {k: v for k, v in _public(target).items() if k != "reply_to_message"}

    def _post(
        self, state: _ChatState, method: str, content: JsonDict, params: JsonDict
    ) -> JsonDict:
        """Store a bot message in the chat outbox and return its public Message dict."""
        markup = self._markup(params)
        reply_to = self._reply_to(state, params)
        item: JsonDict = {
            "message_id": state.new_message_id(),
            "from": BOT_USER,
            "chat": state.chat,
            "date": _now(),
        }
        if reply_to is not None:
            item["reply_to_message"] = reply_to
        item.update(content)
        if markup is not None:
            item["reply_markup"] = markup
        item["method"] = method
        item["_params"] = params
        state.outbox.append(item)
        state.bot_messages[item["message_id"]] = item
        self._state_pulse.fire()
        return _public(item)

    def _edit_target(self, params: JsonDict) -> JsonDict:
        if params.get("inline_message_id") is not None:
            raise _bad("message to edit not found")
        state = self._chat(params)
        message_id = self._int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified", malformed=True)
        item = state.bot_messages.get(message_id)
        if item is None or item.get("_deleted"):
            if message_id in state.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return item

    # ----------------------------------------------------------------- API methods

    @staticmethod
    def _true(params: JsonDict) -> bool:
        return True

    @staticmethod
    def _get_me(params: JsonDict) -> JsonDict:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
            self._touch()
        return True

    def _set_webhook(self, params: JsonDict) -> bool:
        if not params.get("url"):
            self.webhook = None
        else:
            self.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._touch()
        return True

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        offset = self._int(params, "offset")
        limit = min(max(self._int(params, "limit") or 100, 1), 100)
        timeout = min(max(self._int(params, "timeout") or 0, 0), MAX_POLL_TIMEOUT)
        if self.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_pulse.fire()
        if offset is not None:
            self._acknowledge(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._eligible(offset, limit)
            remaining = deadline - loop.time()
            if batch or self._stopping or remaining <= 0:
                break
            self._inflight -= 1
            self._parked += 1
            self._touch(activity=False)
            try:
                await self._updates_pulse.wait(remaining)
            finally:
                self._inflight += 1
                self._parked -= 1
            if generation != self._poll_generation:
                raise _ApiError(409, POLL_CONFLICT, quiet=True)
        for entry in batch:
            entry.delivered = True
        return [entry.update for entry in batch]

    def _acknowledge(self, offset: int) -> None:
        pending = self._pending
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
            self._touch()
            return
        before = len(pending)
        if self._pending_irregular:
            kept = [
                e for e in pending if e.update_id >= offset or (e.redelivery and not e.delivered)
            ]
            self._pending = pending = deque(kept)
        else:
            while pending and pending[0].update_id < offset:
                pending.popleft()
        if not pending:
            self._pending_irregular = False
        if len(pending) != before:
            self._touch()

    def _eligible(self, offset: int | None, limit: int) -> list[_QueuedUpdate]:
        batch: list[_QueuedUpdate] = []
        for entry in self._pending:
            if (
                offset is None
                or offset < 0
                or entry.update_id >= offset
                or (entry.redelivery and not entry.delivered)
            ):
                batch.append(entry)
                if len(batch) >= limit:
                    break
        return batch

    def _send_message(self, params: JsonDict) -> JsonDict:
        state = self._chat(params)
        if "text" not in params:
            raise _bad("message text is empty", malformed=True)
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._post(state, "sendMessage", content, params)

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        item = self._edit_target(params)
        if "text" not in params:
            raise _bad("text is empty", malformed=True)
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        if "text" not in item:
            raise _bad("there is no text in the message to edit")
        markup = self._markup(params)
        current = _public(item).get("reply_markup")
        if text == item["text"] and entities == item.get("entities", []) and markup == current:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._remember(item)
        item["text"] = text
        if entities:
            item["entities"] = entities
        else:
            item.pop("entities", None)
        self._set_markup(item, markup)
        return _public(item)

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        item = self._edit_target(params)
        markup = self._markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        if markup == _public(item).get("reply_markup"):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._remember(item)
        self._set_markup(item, markup)
        return _public(item)

    def _remember(self, item: JsonDict) -> None:
        snapshot = {k: item.get(k) for k in ("text", "entities", "reply_markup") if k in item}
        item.setdefault("_history", []).append(snapshot)

    def _set_markup(self, item: JsonDict, markup: JsonDict | None) -> None:
        if markup is None:
            item.pop("reply_markup", None)
        else:
            item["reply_markup"] = markup
        item["edit_date"] = _now()
        self._state_pulse.fire()

    def _delete_message(self, params: JsonDict) -> bool:
        state = self._chat(params)
        message_id = self._int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified", malformed=True)
        item = state.bot_messages.get(message_id)
        if item is not None and not item.get("_deleted"):
            item["_deleted"] = True
        elif state.user_messages.pop(message_id, None) is None:
            raise _bad("message to delete not found")
        self._state_pulse.fire()
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or not query_id:
            raise _bad("callback_query_id is empty", malformed=True)
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        if self._callbacks_pending.pop(query_id, None) is None:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        self._callbacks_answered[query_id] = params
        self._state_pulse.fire()
        return True

    def _send_contact(self, params: JsonDict) -> JsonDict:
        state = self._chat(params)
        phone = params.get("phone_number")
        first_name = params.get("first_name")
        if not phone:
            raise _bad("phone number is empty", malformed=True)
        if not first_name:
            raise _bad("first name is empty", malformed=True)
        contact: JsonDict = {"phone_number": str(phone), "first_name": str(first_name)}
        for key in ("last_name", "vcard"):
            if params.get(key):
                contact[key] = str(params[key])
        return self._post(state, "sendContact", {"contact": contact}, params)

    def _send_document(self, params: JsonDict) -> JsonDict:
        state = self._chat(params)
        document = params.get("document")
        data: bytes | None = None
        if isinstance(document, UploadedFile):
            if not document.data:
                raise _bad("file must be non-empty")
            data = document.data
            stored = self._store_file("document", data)
            meta: JsonDict = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": document.filename or "document",
                "mime_type": document.content_type or "application/octet-stream",
                "file_size": len(data),
            }
        elif isinstance(document, str) and document in self._files:
            stored = self._files[document]
            data = stored.data
            meta = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": stored.file_path.rsplit("/", 1)[-1],
                "file_size": len(data),
            }
        elif isinstance(document, str) and document.startswith(("http://", "https://")):
            stored = self._store_file("document", b"")
            meta = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": document.rsplit("/", 1)[-1] or "document",
            }
        elif document is None:
            raise _bad("there is no document in the request", malformed=True)
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        content: JsonDict = {"document": meta}
        if params.get("caption") is not None:
            caption, entities = self._formatted(params, "caption", "caption_entities")
            if len(caption) > MAX_CAPTION_LENGTH:
                raise _bad("message caption is too long")
            if caption:
                content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        message = self._post(state, "sendDocument", content, params)
        if data is not None:
            state.bot_messages[message["message_id"]]["_bytes"] = data
        return message

    def _get_file(self, params: JsonDict) -> JsonDict:
        file_id = params.get("file_id")
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    @staticmethod
    def _commands_key(params: JsonDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object", malformed=True)
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand", malformed=True)
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        if len(commands) > 100:
            raise _bad("too many commands")
        self.my_commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return self.my_commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: JsonDict) -> bool:
        self.my_commands.pop(self._commands_key(params), None)
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True


def summarize(items: Iterable[JsonDict]) -> list[str]:
    """Short human-readable lines for outbox items, for assertion messages."""
    return [BotApiStandIn._describe(item) for item in items]
