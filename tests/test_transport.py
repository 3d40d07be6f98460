"""The aiohttp transport: proxies from the environment, as PTB's default transport reads them."""

from __future__ import annotations

import pytest

from bot.telegram.transport import AiohttpRequest


def test_proxy_comes_from_the_environment_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    request = AiohttpRequest()
    assert request._proxy("https://api.telegram.org/botX/getMe") == "http://proxy.example:3128"
    assert request._proxy("http://127.0.0.1:8081/botX/getMe") is None
    monkeypatch.delenv("https_proxy")
    # read once per host: a running bot does not change course halfway
    assert request._proxy("https://api.telegram.org/botX/sendMessage") == (
        "http://proxy.example:3128"
    )
    assert AiohttpRequest()._proxy("https://api.telegram.org/botX/getMe") is None
