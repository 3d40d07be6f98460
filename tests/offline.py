"""An offline BaseRequest: answers the Bot API calls the bot makes and records each one.

This is python-telegram-bot's own testing pattern; it lets thousands of updates run through the
real Application with `process_update`, without any HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import count
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT = {"id": 1000, "is_bot": True, "first_name": "Testibotti", "username": "tyonohjaus_test_bot"}
TRUE_METHODS = {
    "answerCallbackQuery",
    "editMessageReplyMarkup",
    "setMyCommands",
    "deleteWebhook",
    "sendChatAction",
    "deleteMyCommands",
    "setWebhook",
}
MESSAGE_METHODS = {"sendMessage", "sendContact", "sendDocument", "editMessageText"}


@dataclass
class Sent:
    method: str
    params: dict[str, Any]


class RecordingRequest(BaseRequest):
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.unexpected: list[str] = []
        self._ids = count(1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        self.sent.append(Sent(endpoint, params))
        if endpoint == "getMe":
            result: Any = BOT
        elif endpoint == "getUpdates":
            result = []
        elif endpoint in TRUE_METHODS:
            result = True
        elif endpoint in MESSAGE_METHODS:
            chat_id = int(params.get("chat_id", 0) or 0)
            result = {
                "message_id": int(params.get("message_id", 0) or 0) or next(self._ids),
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": BOT,
                "text": str(params.get("text", "")),
            }
        else:
            self.unexpected.append(endpoint)
            return 400, json.dumps(
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: not in the offline set",
                }
            ).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()
