"""Tests for the Bot API stand-in itself, driven by a real PTB Bot and Application."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.botapi_standin import BOT_ID, BOT_USERNAME, BotApiStandIn, FakeUser

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-standin-token"
USER = FakeUser(id=4242, first_name="Maija", username="maija")


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    server = BotApiStandIn(token=TOKEN, hold_seconds=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, base_url=standin.base_url, base_file_url=standin.base_file_url)
    await client.initialize()
    try:
        yield client
    finally:
        await client.shutdown()


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    await update.effective_message.reply_text(
        update.effective_message.text or "", reply_markup=keyboard
    )


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"aloitettu {context.args}")


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"painettu {query.data}")


async def _run_app(standin: BotApiStandIn, poll_timeout: int = 1) -> Application:  # type: ignore[type-arg]
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    app.add_handler(CallbackQueryHandler(_pressed))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    return app


async def _stop_app(app: Application) -> None:  # type: ignore[type-arg]
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


@pytest.fixture
async def echo_app(standin: BotApiStandIn) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    app = await _run_app(standin)
    try:
        yield app
    finally:
        await _stop_app(app)


async def test_get_me(bot: Bot, standin: BotApiStandIn) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.username == BOT_USERNAME
    assert me.is_bot
    assert standin.calls[0].method == "getMe"
    assert standin.unexpected == []


async def test_wrong_token_is_unauthorized(standin: BotApiStandIn) -> None:
    other = Bot("999:wrong", base_url=standin.base_url, base_file_url=standin.base_file_url)
    with pytest.raises(InvalidToken):
        await other.get_me()
    assert standin.unexpected[-1].token == "999:wrong"


async def test_echo_roundtrip(standin: BotApiStandIn, echo_app: Application) -> None:  # type: ignore[type-arg]
    update = standin.send_text(USER, "hei")
    assert update["update_id"] == 1
    (reply,) = await standin.wait_outgoing(USER.id)
    assert reply["method"] == "sendMessage"
    assert reply["text"] == "hei"
    assert reply["from"]["id"] == BOT_ID
    assert reply["chat"] == {
        "id": USER.id,
        "type": "private",
        "first_name": "Maija",
        "username": "maija",
    }
    assert reply["message_id"] == 2  # shared per-chat counter: the user's message was 1
    await standin.wait_idle()
    assert standin.pending_update_ids() == []
    assert standin.unexpected == []
    assert standin.errors == []


async def test_string_fields_stay_strings(standin: BotApiStandIn, echo_app: Application) -> None:  # type: ignore[type-arg]
    for text in ("7", "true", "null", '{"a": 1}'):
        standin.send_text(USER, text)
        (reply,) = await standin.wait_outgoing(USER.id)
        assert reply["text"] == text
    call = await standin.wait_call("sendMessage", lambda c: c.params["text"] == "7")
    assert call.params["chat_id"] == USER.id
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"


async def test_command_entity(standin: BotApiStandIn, echo_app: Application) -> None:  # type: ignore[type-arg]
    update = standin.send_text(USER, "/start koodi")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    (reply,) = await standin.wait_outgoing(USER.id)
    assert reply["text"] == "aloitettu ['koodi']"
    standin.send_text(USER, f"/start@{BOT_USERNAME}")
    (reply,) = await standin.wait_outgoing(USER.id)
    assert reply["text"] == "aloitettu []"


async def test_press_answers_and_edits(standin: BotApiStandIn, echo_app: Application) -> None:  # type: ignore[type-arg]
    standin.send_text(USER, "valitse")
    (message,) = await standin.wait_outgoing(USER.id)
    update = standin.press(USER, message, "ok")
    query_id = update["callback_query"]["id"]
    answer = await standin.wait_call("answerCallbackQuery")
    assert answer.params["callback_query_id"] == query_id
    assert isinstance(answer.params["callback_query_id"], str)
    await standin.wait_call("editMessageText")
    assert message["text"] == "painettu ok"  # edited in place
    assert "reply_markup" not in message  # editMessageText without markup drops the keyboard
    assert message["_history"][0]["text"] == "valitse"
    assert standin.pending_callback_ids() == set()
    assert standin.answered_callback_ids() == {query_id}
    # forged data is delivered as well; pressing the edited message again is "not modified"
    standin.press(USER, message, "x" * 100)
    await standin.wait_call("answerCallbackQuery")
    await standin.wait_idle()
    assert message["text"] == "painettu " + "x" * 100
    assert standin.pending_callback_ids() == set()
    assert standin.outbox(USER.id) == [message]


async def test_long_poll_wakes_promptly(standin: BotApiStandIn) -> None:
    app = await _run_app(standin, poll_timeout=10)
    try:
        await standin.wait_idle()
        await asyncio.sleep(0.2)  # the long poll is parked now
        polls_before = len([c for c in standin.calls if c.method == "getUpdates"])
        started = time.perf_counter()
        standin.send_text(USER, "nopeasti")
        (reply,) = await standin.wait_outgoing(USER.id, timeout=1.0)
        elapsed = time.perf_counter() - started
        assert reply["text"] == "nopeasti"
        assert elapsed < 0.5
        polls_during = len([c for c in standin.calls if c.method == "getUpdates"]) - polls_before
        assert polls_during <= 2  # woken poll, then the acknowledging one
    finally:
        await _stop_app(app)


async def test_redeliver_same_update(standin: BotApiStandIn, echo_app: Application) -> None:  # type: ignore[type-arg]
    update = standin.send_text(USER, "uudestaan")
    await standin.wait_outgoing(USER.id)
    await standin.wait_idle()
    standin.redeliver(update)
    (again,) = await standin.wait_outgoing(USER.id)
    assert again["text"] == "uudestaan"
    await standin.wait_idle()
    assert len(standin.outbox(USER.id)) == 2


async def test_send_document_bytes_and_download(bot: Bot, standin: BotApiStandIn) -> None:
    standin.send_text(USER, "hei")
    sent = await bot.send_document(
        USER.id,
        document=b"hello bytes",
        filename="raportti.txt",
        caption="<b>Raportti</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None
    assert sent.document.file_name == "raportti.txt"
    assert sent.document.file_size == len(b"hello bytes")
    assert sent.caption == "Raportti"
    (item,) = standin.outbox(USER.id)
    assert item["method"] == "sendDocument"
    assert item["_bytes"] == b"hello bytes"
    assert item["document"]["file_name"] == "raportti.txt"
    assert item["caption_entities"] == [{"type": "bold", "offset": 0, "length": 8}]
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"hello bytes"


async def test_send_contact_and_reply_keyboard(bot: Bot, standin: BotApiStandIn) -> None:
    standin.send_text(USER, "hei")
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Jaa numero", request_contact=True)]])
    message = await bot.send_message(USER.id, "Jaa numerosi", reply_markup=keyboard)
    assert message.reply_markup is None  # Telegram echoes only inline keyboards
    contact = await bot.send_contact(USER.id, phone_number="+358401234567", first_name="Tuki")
    assert contact.contact is not None
    assert contact.contact.phone_number == "+358401234567"
    first, second = await standin.wait_outgoing(USER.id, count=2)
    assert first["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert second["method"] == "sendContact"
    await bot.send_chat_action(USER.id, "typing")
    assert (await standin.wait_call("sendChatAction")).params["action"] == "typing"


async def test_api_errors(bot: Bot, standin: BotApiStandIn) -> None:
    standin.send_text(USER, "hei")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER.id, "x" * 4097)
    await bot.send_message(USER.id, "ä" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER.id, "  \n")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "kuka?")
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER.id, "nappi", reply_markup=too_long)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("uusi", chat_id=USER.id, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("uusi", chat_id=USER.id, message_id=1)
    sent = await bot.send_message(USER.id, "sama")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("sama", chat_id=USER.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER.id, "rivi<br>toinen", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")
    assert [item["text"] for item in standin.outbox(USER.id)] == ["ä" * 4096, "sama"]
    assert standin.unexpected == []
    assert len(standin.errors) == 10


async def test_html_entities(bot: Bot, standin: BotApiStandIn) -> None:
    standin.send_text(USER, "hei")
    message = await bot.send_message(
        USER.id,
        '<b>Hei</b> &amp; <i>moi 👋 <a href="https://x.fi/?a=1&amp;b=2">linkki</a></i>',
        parse_mode="HTML",
    )
    assert message.text == "Hei & moi 👋 linkki"
    entities = [(e.type, e.offset, e.length, e.url) for e in message.entities]
    assert entities == [
        ("bold", 0, 3, None),
        ("italic", 6, 13, None),
        ("text_link", 13, 6, "https://x.fi/?a=1&b=2"),
    ]


async def test_unknown_method_is_unexpected(bot: Bot, standin: BotApiStandIn) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicateChat", api_kwargs={"chat_id": USER.id})
    assert [c.method for c in standin.unexpected] == ["frobnicateChat"]
    assert standin.unexpected[0].params == {"chat_id": USER.id}


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_faults(bot: Bot, standin: BotApiStandIn) -> None:
    standin.send_text(USER, "hei")
    standin.inject_fault("sendMessage", "403")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER.id, "estetty")
    await bot.send_message(USER.id, "taas ok")
    standin.inject_fault("sendMessage", "429", retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(USER.id, "liian nopeasti")
    standin.inject_fault("sendMessage", "500", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(USER.id, "palvelinvirhe")
    standin.inject_fault("sendMessage", "400")
    with pytest.raises(BadRequest, match=r"(?i)injected"):
        await bot.send_message(USER.id, "huono")
    standin.inject_fault("sendMessage", "timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(USER.id, "hidas", read_timeout=0.1)
    assert [item["text"] for item in standin.outbox(USER.id)] == ["taas ok"]


async def test_fault_recovers_polling(standin: BotApiStandIn) -> None:
    standin.inject_fault("getUpdates", "500")
    app = await _run_app(standin)
    try:
        standin.send_text(USER, "toipuu")
        (reply,) = await standin.wait_outgoing(USER.id, timeout=4.0)
        assert reply["text"] == "toipuu"
    finally:
        await _stop_app(app)


async def test_user_side_updates_are_valid(bot: Bot, standin: BotApiStandIn) -> None:
    updates = [
        standin.send_text(USER, "alku"),
        standin.send_sticker(USER),
        standin.send_photo(USER),
        standin.send_voice(USER),
        standin.send_document(USER, file_name="cv.pdf"),
        standin.send_message(USER, contact={"phone_number": "+358500000000"}),
        standin.edit_text(USER, 1, "muokattu"),
        standin.send_group_text(USER, -100, "/start ryhmässä"),
        standin.queue_raw(
            {"message": {"message_id": 1, "date": 0, "chat": {"id": 55, "type": "private"}}}
        ),
    ]
    assert [u["update_id"] for u in updates] == list(range(1, 10))
    parsed = [Update.de_json(u, bot) for u in updates]
    _, sticker, photo, voice, document, contact, edited, group, raw = parsed
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    assert photo.message is not None
    assert len(photo.message.photo) == 2
    assert voice.message is not None
    assert voice.message.voice is not None
    assert document.message is not None
    assert document.message.document is not None
    assert document.message.document.file_name == "cv.pdf"
    assert contact.message is not None
    assert contact.message.contact is not None
    assert edited.edited_message is not None
    assert edited.edited_message.text == "muokattu"
    assert group.message is not None
    assert group.message.chat.type == "group"
    assert group.message.chat.id == -100
    assert raw.message is not None
    voice_file = await bot.get_file(voice.message.voice.file_id)
    assert bytes(await voice_file.download_as_bytearray()).startswith(b"OggS")
    fetched = await bot.get_updates(timeout=0)
    assert [u.update_id for u in fetched] == list(range(1, 10))
    await bot.send_message(-100, "ryhmälle")
    await bot.send_message(55, "raw-chatille")


async def test_commands_roundtrip(bot: Bot, standin: BotApiStandIn) -> None:
    await bot.set_my_commands([("start", "Aloita"), ("apua", "Ohjeet")])
    commands = await bot.get_my_commands()
    assert [c.command for c in commands] == ["start", "apua"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start", "Iso kirjain")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
