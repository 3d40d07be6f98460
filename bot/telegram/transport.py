"""HTTP to the Bot API over aiohttp: one pooled session, JSON bodies, PTB's error types.

python-telegram-bot's default transport (httpx) spends more of the bot's CPU per call than the
bot's own work on an answer does; this one keeps PTB's whole Bot API surface and its error
handling (PTB turns status codes into TelegramError subclasses from what is returned here).
Files (an export) go as multipart; every other call is a JSON body.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_SIZE = 100  # as many connections as the poller handles people at once
_NOT_GIVEN = type(BaseRequest.DEFAULT_NONE)  # PTB's marker for an argument left out


class AiohttpRequest(BaseRequest):
    """A BaseRequest on one aiohttp session; created per Bot (calls and getUpdates apart)."""

    def __init__(self, *, timeout: float = 10.0, pool_size: int = POOL_SIZE) -> None:
        self._timeout = timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}  # per host, read from the environment once

    @property
    def read_timeout(self) -> float:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                raise_for_status=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        connect, pool = self._seconds(connect_timeout), self._seconds(pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_read=self._seconds(read_timeout),
        )
        body: dict[str, Any] = {}
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body["data"] = form
            else:
                body["data"] = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                body["headers"] = {"Content-Type": "application/json"}
        proxy = self._proxy(url)
        if proxy is not None:
            body["proxy"] = proxy
        try:
            async with session.request(method, url, timeout=timeout, **body) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy(self, url: str) -> str | None:
        """HTTPS_PROXY / NO_PROXY as PTB's default transport honours them, looked up once per
        host (aiohttp's own trust_env reads them, and ~/.netrc in a thread, on every call)."""
        host = urllib.parse.urlsplit(url).hostname or ""
        if host not in self._proxies:
            proxies = urllib.request.getproxies()
            scheme = "https" if url.startswith("https:") else "http"
            chosen = proxies.get(scheme)
            self._proxies[host] = None if urllib.request.proxy_bypass(host) else chosen
        return self._proxies[host]

    def _seconds(self, value: Any) -> float | None:
        """PTB's "not given" means this transport's default; None means no limit."""
        if isinstance(value, _NOT_GIVEN):
            return self._timeout
        return None if value is None else float(value)
