"""What every handler group shares: its dependencies, who is asking, and sending helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.prompts import PromptSet
from bot.service import ReflectionService
from bot.storage import Storage
from bot.supervision import Supervision

Context = ContextTypes.DEFAULT_TYPE
PAGE_SIZE = 5


@dataclass(frozen=True)
class Deps:
    settings: Settings
    service: ReflectionService
    storage: Storage
    supervision: Supervision


@dataclass(frozen=True)
class Who:
    """The person behind an update. Replies go to their own private chat (id = user id)."""

    user_id: int
    language: str
    texts: PromptSet
    name: str

    @property
    def chat_id(self) -> int:
        return self.user_id


class HandlerGroup:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def who(self, update: Update, context: Context) -> Who | None:
        """Identify the user; in invite-only mode, turn away people not let in yet."""
        user = update.effective_user
        if user is None or user.is_bot:
            return None
        service = self.deps.service
        if (
            self.deps.settings.invite_only
            and not await service.registered(user.id)
            and not await self.deps.supervision.is_supervisor(user.id)
        ):
            texts = service.texts(service.pick_language(user.language_code))
            await context.bot.send_message(user.id, texts.text("invite_only"))
            return None
        language = await service.language(user.id, user.language_code)
        await service.seen(user.id)
        return Who(user.id, language, service.texts(language), user.full_name)


async def send_html(
    context: Context,
    chat_id: int,
    messages: Sequence[str],
    *,
    protect: bool = False,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Send pre-escaped HTML messages; the keyboard goes on the last one."""
    for index, text in enumerate(messages):
        await context.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            protect_content=protect,
            reply_markup=markup if index == len(messages) - 1 else None,
        )


async def edit_or_send(
    context: Context,
    message: Message | None,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
) -> None:
    """Replace a list message in place (paging); send a new one if that is not possible."""
    if message is not None:
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return  # already showing exactly this
    await context.bot.send_message(chat_id, text, reply_markup=markup)


def nav_row(
    buttons: Mapping[str, str], page: int, total_pages: int, kind: str
) -> list[InlineKeyboardButton]:
    """Newer/older buttons for a paged list; empty when everything fits on one page."""
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(buttons["newer"], callback_data=f"{kind}:{page - 1}"))
    if page + 1 < total_pages:
        row.append(InlineKeyboardButton(buttons["older"], callback_data=f"{kind}:{page + 1}"))
    return row


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))
