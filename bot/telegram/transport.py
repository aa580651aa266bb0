"""python-telegram-bot's Bot API requests carried by aiohttp.

python-telegram-bot sends every request through a `BaseRequest`. Its default, `HTTPXRequest`, cost
the bot process more CPU than anything else once the steps had a process of their own: on every
request httpcore walks its whole connection pool and asks each connection's socket, through anyio,
whether it has expired (py-spy, 200 updates/s: a quarter of the process's samples in httpx,
httpcore and anyio). aiohttp's connector keeps idle connections in a queue and parses responses in
C. Everything above the transport stays python-telegram-bot's: building the parameters, reading the
answer, turning Telegram's errors (429 with its retry_after included) into exceptions.

A request without files goes as a JSON body, which the Bot API accepts as it does form fields:
url-encoding every parameter, each already JSON text, cost aiohttp a fifth of a reply's send.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession`, opened by `initialize` on the running loop.

    Timeouts mean what they mean for `HTTPXRequest`, with the same defaults, except `write_timeout`,
    which aiohttp has no equivalent of: a request body here is a few kilobytes of JSON."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Not trust_env: aiohttp would then read the proxy variables and ~/.netrc again for
            # every request, in a worker thread (a tenth of the process's CPU under load).
            # `_proxy_for` reads the proxy variables once per host instead.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size), headers={"User-Agent": self.USER_AGENT}
            )

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for this URL's host (HTTPS_PROXY, HTTP_PROXY, NO_PROXY),
        as python-telegram-bot's httpx default honours them; looked up once per host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            proxy = getproxies().get(parts.scheme)
            self._proxies[key] = None if not proxy or proxy_bypass(key[1]) else proxy
        return self._proxies[key]

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp's `connect` covers waiting for a free connection and opening one.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None if connect is None or pool is None else connect + pool, sock_connect=connect, sock_read=read
        )
        try:
            body, headers = _body(request_data)
            async with session.request(method, url, data=body, headers=headers, timeout=timeout, proxy=self._proxy_for(url)) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as error:
            raise TimedOut(f"aiohttp: {type(error).__name__}") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


_JSON = {"Content-Type": "application/json"}


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    """The body and its headers: the parameters as one JSON object, or, when files are uploaded,
    form fields as python-telegram-bot encodes them (JSON values) with the files as parts."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        # `parameters`, not `json_payload`: the latter encodes each value's JSON text once more.
        return json.dumps(request_data.parameters).encode(), _JSON
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form, None
