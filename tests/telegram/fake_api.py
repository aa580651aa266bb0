"""An in-memory fake of the Telegram Bot API, for tests that must not touch the network.

Three ways to reach the same :class:`FakeBotApi`:

* :func:`mock_transport` plugs it into httpx, so the real python-telegram-bot request code
  (``HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)})``) talks to it in-process;
* :class:`FakeBotApiServer` serves it over real HTTP on 127.0.0.1, for a bot run as a separate
  process (give it ``server.base_url`` as its Bot API base URL);
* :meth:`FakeBotApi.handle` calls it directly.

What python-telegram-bot 22 actually sends (see ``telegram/request/_httpxrequest.py`` and
``_requestdata.py``): every Bot API call is a POST to ``<base_url><token>/<method>`` whose body is
``application/x-www-form-urlencoded`` (``httpx ... data=request_data.json_parameters``), or
``multipart/form-data`` when a file is uploaded. Never a JSON body. Each form value is the
parameter JSON-encoded, *except* plain strings, which are sent raw: ``chat_id=42``,
``text=Halo``, ``reply_markup={"inline_keyboard": ...}``. So a form value can only be decoded
knowing the parameter's type; see :data:`_STRING_PARAMS`.

Errors use the real Bot API envelope, because PTB maps them to its exceptions from the HTTP status
and the ``description``/``parameters`` fields (400 -> BadRequest, 401/404 -> InvalidToken,
403 -> Forbidden, 409 -> Conflict, ``parameters.retry_after`` -> RetryAfter, anything else ->
NetworkError; an httpx timeout -> TimedOut).
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

import httpx

__all__ = [
    "DEFAULT_GROUP_CHAT_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_USERNAME",
    "Call",
    "FakeBotApi",
    "FakeBotApiServer",
    "JsonDict",
    "mock_transport",
    "parse_request_params",
]

JsonDict = dict[str, Any]

# Shaped like a real token ("<bot id>:<secret>") so code that derives the bot id from it works.
DEFAULT_TOKEN = "7000000001:AAFakeTokenForPendampingTests0000000"
DEFAULT_USERNAME = "pendamping_test_bot"
# Supergroup ids are "-100" followed by the channel id; a realistic default for group tests.
DEFAULT_GROUP_CHAT_ID = -1001234567890

# Form values of these parameters are strings even when they look like JSON (a text "42" or
# "true", a callback query id "123") and must not be decoded; every other form value is JSON.
_STRING_PARAMS = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "emoji",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
    }
)

_CHAT_ACTIONS = frozenset(
    {
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
    }
)

_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
# Telegram marks every "/command" (optionally "@botname") that starts the text or follows
# whitespace as a bot_command entity; PTB's CommandHandler only fires on such an entity.
_BOT_COMMAND_RE = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a content and reply markup of the current message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"

# Default descriptions of injected failures, worded like the real ones.
_FAILURE_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


@dataclass
class Call:
    """One request that reached the fake (after token check), in arrival order."""

    method: str
    params: JsonDict
    time: float
    # HTTP status answered; 0 when the call was made to hang (a timeout); None while in progress
    # or if the client cancelled it (PTB's Updater.stop cancels its pending long poll).
    status: int | None = None


class _ApiError(Exception):
    """Raised by a method implementation; becomes the Bot API error envelope."""

    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def reply(self) -> tuple[int, JsonDict]:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return self.status, body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass
class _Failure:
    method: str | None
    status: int
    retry_after: int | None
    description: str | None
    chat_id: int | None
    remaining: int | None = None  # counted failures (fail)
    deadline: float | None = None  # timed failures (fail_for)

    def matches(self, method: str, params: Mapping[str, Any], now: float) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        if self.chat_id is not None and _maybe_int(params.get("chat_id")) != self.chat_id:
            return False
        if self.remaining is not None:
            return self.remaining > 0
        return self.deadline is not None and now < self.deadline

    def error(self) -> _ApiError:
        parameters: JsonDict | None = None
        retry_after = self.retry_after
        if self.status == 429 and retry_after is None:
            retry_after = 1  # a 429 without retry_after would not be a RetryAfter for PTB
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
        if self.description is not None:
            description = self.description
        elif self.status == 429:
            description = f"Too Many Requests: retry after {retry_after}"
        else:
            description = _FAILURE_DESCRIPTIONS.get(self.status) or _status_phrase(self.status)
        return _ApiError(self.status, description, parameters)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _utf16_len(text: str) -> int:
    # Telegram measures entity offsets and lengths in UTF-16 code units (emoji count as 2).
    return len(text.encode("utf-16-le")) // 2


def _maybe_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------------------------
# Request decoding


def _decode_form_value(name: str, raw: str) -> Any:
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # e.g. chat_id="@channel", sent raw because it is a str


def parse_request_params(content_type: str, body: bytes, query: str = "") -> JsonDict:
    """Decode a Bot API request (query string plus JSON, urlencoded or multipart body).

    Uploaded files become ``{"filename": ..., "content_type": ..., "content": bytes}``.
    Raises ``ValueError`` for a body that cannot be decoded.
    """
    params: JsonDict = {}
    for name, raw in urllib.parse.parse_qsl(query, keep_blank_values=True):
        params[name] = _decode_form_value(name, raw)
    mime = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return params
    if mime == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        params.update(decoded)
    elif mime == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:
        # PTB's normal case; also the default for clients that omit Content-Type.
        text = body.decode("utf-8")
        for name, raw in urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False):
            params[name] = _decode_form_value(name, raw)
    return params


def _parse_multipart(content_type: str, body: bytes) -> JsonDict:
    # The cgi module is deprecated (gone in 3.13); the email package parses multipart just as well
    # once the Content-Type header is put in front of the body.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("malformed multipart body")
    params: JsonDict = {}
    for part in cast(list[Any], message.get_payload()):
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": payload,
            }
        else:
            params[name] = _decode_form_value(name, payload.decode(part.get_content_charset() or "utf-8"))
    return params


# --------------------------------------------------------------------------------------------
# parse_mode=HTML, so tests see the text as the user sees it (and bad markup fails like it does
# on Telegram instead of only in production).

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
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.parts: list[str] = []
        self.entities: list[JsonDict] = []
        self._offset = 0
        self._stack: list[tuple[str, int, JsonDict | None]] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._source[:index].encode("utf-8"))

    def _error(self, detail: str) -> _ApiError:
        return _bad_request(f"can't parse entities: {detail}")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self._offset += _utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        kind = _HTML_TAGS.get(tag)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise self._error(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        entity: JsonDict | None = {"type": kind}
        if tag == "a":
            href = attributes.get("href")
            entity = {"type": kind, "url": href} if href else None
        elif tag == "blockquote" and "expandable" in attributes:
            entity = {"type": "expandable_blockquote"}
        elif tag == "tg-emoji":
            entity = {"type": kind, "custom_emoji_id": attributes.get("emoji-id") or ""}
        elif tag == "code" and self._stack and self._stack[-1][0] == "pre":
            # <pre><code class="language-x"> is one pre entity with a language, not two.
            language = (attributes.get("class") or "").removeprefix("language-")
            outer = self._stack[-1][2]
            if outer is not None and language:
                outer["language"] = language
            entity = None
        self._stack.append((tag, self._offset, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1][0] != tag:
            expected = f'expected "</{self._stack[-1][0]}>"' if self._stack else "no tag is open"
            raise self._error(
                f'Unmatched end tag at byte offset {self._byte_offset()}, {expected}, found "</{tag}>"'
            )
        _, start, entity = self._stack.pop()
        if entity is not None and self._offset > start:
            self.entities.append({**entity, "offset": start, "length": self._offset - start})

    def finish(self) -> tuple[str, list[JsonDict]]:
        self.close()
        if self._stack:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def _format_text(raw: str, parse_mode: object, entities: object) -> tuple[str, list[JsonDict]]:
    if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
        parser = _TelegramHtml(raw)
        parser.feed(raw)
        return parser.finish()
    # MarkdownV2/Markdown are not parsed: the text is kept as sent (documented limitation).
    if isinstance(entities, list):
        return raw, copy.deepcopy(entities)
    return raw, []


def _command_entities(text: str) -> list[JsonDict]:
    return [
        {
            "type": "bot_command",
            "offset": _utf16_len(text[: m.start()]),
            "length": _utf16_len(m.group()),
        }
        for m in _BOT_COMMAND_RE.finditer(text)
    ]


# --------------------------------------------------------------------------------------------


class FakeBotApi:
    """The Bot API of one bot, in memory.

    All state is guarded by one re-entrant lock (wrapped in a Condition) because the fake is
    driven from the event loop of the bot under test, from HTTP server threads, and from test
    threads at once. Everything returned to callers is a deep copy.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = DEFAULT_USERNAME,
        first_name: str = "Pendamping",
        hang_seconds: float = 10.0,
        loopback_webhooks: bool = False,
    ) -> None:
        self.token = token
        # Telegram wants https; a bot under test on this machine serves plain http on loopback.
        self.loopback_webhooks = loopback_webhooks
        # How long a "hang" failure sleeps in handle() (the HTTP server path); longer than PTB's
        # default 5 s read timeout so the client times out. mock_transport raises ReadTimeout.
        self.hang_seconds = hang_seconds
        self._cond = threading.Condition(threading.RLock())
        self._bot_user: JsonDict = {
            "id": _maybe_int(token.split(":", 1)[0]) or 7000000001,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._calls: list[Call] = []
        self._messages: dict[int, list[JsonDict]] = {}  # bot messages per chat, in send order
        self._deleted: set[tuple[int, int]] = set()
        # Private chats share one message_id sequence between the user's and the bot's messages.
        self._last_message_id: dict[int, int] = {}
        self._chats: dict[int, JsonDict] = {}  # chat objects seen in pushed updates
        self._pending: list[JsonDict] = []
        self._next_update_id = 1
        self._callback_ids: set[str] = set()
        self._next_callback = 1
        self._callback_answers: list[JsonDict] = []
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}
        self._webhook: JsonDict | None = None
        self._failures: list[_Failure] = []
        # Bumped by interrupt_waits() so long polls and hangs return when a server stops.
        self._interrupts = 0
        self._async_waiters: list[Callable[[], None]] = []
        self._methods: dict[str, tuple[str, Callable[[JsonDict], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._set_my_description,
                "getMyDescription": self._get_my_description,
                "setMyShortDescription": self._set_my_short_description,
                "getMyShortDescription": self._get_my_short_description,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getUpdates": self._get_updates_now,
                "logOut": self._true,
                "close": self._true,
            }.items()
        }

    # ---- recorded state -----------------------------------------------------------------

    @property
    def bot_user(self) -> JsonDict:
        return copy.deepcopy(self._bot_user)

    @property
    def calls(self) -> list[Call]:
        """Every call, in arrival order (a snapshot list; the Call objects are live)."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if c.method.lower() == method.lower()]

    def clear_calls(self) -> None:
        with self._cond:
            self._calls.clear()

    def sent(self, chat_id: int) -> list[JsonDict]:
        """Bot messages in the chat, in send order, as they are now (after edits; deleted ones
        left out)."""
        with self._cond:
            return [
                copy.deepcopy(m)
                for m in self._messages.get(chat_id, [])
                if (chat_id, m["message_id"]) not in self._deleted
            ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(m.get("text", "")) for m in self.sent(chat_id)]

    def deleted(self, chat_id: int) -> list[int]:
        with self._cond:
            return sorted(mid for cid, mid in self._deleted if cid == chat_id)

    @property
    def callback_answers(self) -> list[JsonDict]:
        """Params of every successful answerCallbackQuery, in order."""
        with self._cond:
            return copy.deepcopy(self._callback_answers)

    @property
    def commands(self) -> dict[tuple[str, str], list[dict[str, str]]]:
        """Command lists keyed by (scope key, language_code); the scope key is the scope type
        ("default", "all_private_chats", ...) or, for scopes naming a chat/user, the scope as
        compact sorted JSON. language_code "" is the fallback list."""
        with self._cond:
            return copy.deepcopy(self._commands)

    def commands_for(
        self, language_code: str = "", scope: Mapping[str, Any] | None = None
    ) -> list[dict[str, str]]:
        with self._cond:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def webhook(self) -> JsonDict | None:
        with self._cond:
            return copy.deepcopy(self._webhook)

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._pending)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block (a test thread, never the bot's event loop) until predicate() is true; it is
        re-checked on every call and update. Returns the final predicate value."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    async def wait_until_async(
        self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
    ) -> bool:
        """Like wait_until, for a test running in the bot's own event loop (polls)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)
        return True

    # ---- failure injection ----------------------------------------------------------------

    def fail(
        self,
        method: str | None = None,
        *,
        status: int = 500,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next ``times`` calls matching method (None: any method, getUpdates included) and
        chat_id fail with ``status``; 429 carries retry_after (default 1); status 0 hangs (a
        timeout). Failed calls have no effect."""
        with self._cond:
            self._failures.append(
                _Failure(method, status, retry_after, description, chat_id, remaining=times)
            )

    def fail_for(
        self,
        seconds: float,
        *,
        status: int = 500,
        retry_after: int | None = None,
        method: str | None = None,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> None:
        """Every matching call fails until ``seconds`` from now (an outage)."""
        with self._cond:
            self._failures.append(
                _Failure(
                    method,
                    status,
                    retry_after,
                    description,
                    chat_id,
                    deadline=time.monotonic() + seconds,
                )
            )

    def clear_failures(self) -> None:
        with self._cond:
            self._failures.clear()

    def interrupt_waits(self) -> None:
        """End every long poll and hang in progress now (used by FakeBotApiServer.stop)."""
        with self._cond:
            self._interrupts += 1
            self._notify(updates=True)

    # ---- updates ----------------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> JsonDict:
        """Queue an update for getUpdates (an update_id is assigned if missing); returns it."""
        with self._cond:
            queued = copy.deepcopy(dict(update))
            if "update_id" not in queued:
                queued["update_id"] = self._take_update_id(None)
            else:
                self._next_update_id = max(self._next_update_id, int(queued["update_id"]) + 1)
            for value in queued.values():
                if not isinstance(value, dict):
                    continue
                chat = value.get("chat") or (value.get("message") or {}).get("chat")
                if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                    self._chats[chat["id"]] = copy.deepcopy(chat)
                if "chat_instance" in value and isinstance(value.get("id"), str):
                    self._callback_ids.add(value["id"])
            self._pending.append(queued)
            self._notify(updates=True)
            return copy.deepcopy(queued)

    def message_update(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        extra: JsonDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            extra["entities"] = entities
        return self._message_update(
            user_id, extra, chat_id=chat_id, chat_type=chat_type,
            language_code=language_code, first_name=first_name, update_id=update_id,
        )

    def command_update(
        self,
        user_id: int,
        command: str,
        args: str = "",
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.message_update(
            user_id, text, chat_id=chat_id, chat_type=chat_type,
            language_code=language_code, first_name=first_name, update_id=update_id,
        )

    def group_message_update(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int = DEFAULT_GROUP_CHAT_ID,
        chat_type: str = "supergroup",
        title: str = "Relawan Pendamping",
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        update = self.message_update(
            user_id, text, chat_id=chat_id, chat_type=chat_type,
            language_code=language_code, first_name=first_name, update_id=update_id,
        )
        update["message"]["chat"]["title"] = title
        return update

    def callback_update(
        self,
        user_id: int,
        data: str,
        message_id: int,
        *,
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        """A button press on the bot's message ``message_id``; the query carries that message as
        it is now (a stub if the fake never sent it) and a query id answerCallbackQuery accepts."""
        chat = chat_id if chat_id is not None else user_id
        with self._cond:
            query_id = str(4_000_000_000_000_000_000 + self._next_callback)
            self._next_callback += 1
            self._callback_ids.add(query_id)
            message = next(
                (copy.deepcopy(m) for m in self._messages.get(chat, []) if m["message_id"] == message_id),
                None,
            )
            if message is None:
                message = {
                    "message_id": message_id,
                    "from": copy.deepcopy(self._bot_user),
                    "chat": self._chat_object(chat, first_name),
                    "date": _now(),
                }
            return {
                "update_id": self._take_update_id(update_id),
                "callback_query": {
                    "id": query_id,
                    "from": _user(user_id, first_name, language_code),
                    "message": message,
                    "chat_instance": str(abs(chat) * 7919 + 1),
                    "data": data,
                },
            }

    def sticker_update(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        sticker = {
            "file_id": f"CAACAgIAAxkBAAE{user_id}",
            "file_unique_id": f"AgAD{user_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._message_update(
            user_id, {"sticker": sticker}, chat_id=chat_id, language_code=language_code,
            first_name=first_name, update_id=update_id,
        )

    def photo_update(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        # Telegram sends every size it made; two is enough to look real.
        photo = [
            {"file_id": f"AgACAgIAAxk{user_id}s", "file_unique_id": f"AQAD{user_id}s",
             "width": 90, "height": 67, "file_size": 1200},
            {"file_id": f"AgACAgIAAxk{user_id}m", "file_unique_id": f"AQAD{user_id}m",
             "width": 800, "height": 600, "file_size": 54000},
        ]
        extra: JsonDict = {"photo": photo}
        if caption is not None:
            extra["caption"] = caption
        return self._message_update(
            user_id, extra, chat_id=chat_id, language_code=language_code,
            first_name=first_name, update_id=update_id,
        )

    def voice_update(
        self,
        user_id: int,
        *,
        duration: int = 3,
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        voice = {
            "file_id": f"AwACAgIAAxk{user_id}",
            "file_unique_id": f"AgADv{user_id}",
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 4000 * duration,
        }
        return self._message_update(
            user_id, {"voice": voice}, chat_id=chat_id, language_code=language_code,
            first_name=first_name, update_id=update_id,
        )

    def edited_message_update(
        self,
        user_id: int,
        text: str,
        message_id: int,
        *,
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        """The user edited their earlier message ``message_id`` to ``text``."""
        chat = chat_id if chat_id is not None else user_id
        message: JsonDict = {
            "message_id": message_id,
            "from": _user(user_id, first_name, language_code),
            "chat": self._chat_object(chat, first_name),
            "date": _now() - 60,
            "edit_date": _now(),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        return {"update_id": self._take_update_id(update_id), "edited_message": message}

    def forwarded_update(
        self,
        user_id: int,
        text: str,
        *,
        origin_name: str = "Budi",
        origin_user_id: int | None = None,
        chat_id: int | None = None,
        language_code: str = "id",
        first_name: str = "Ayu",
        update_id: int | None = None,
    ) -> JsonDict:
        """A message the user forwarded; the origin is a hidden user (privacy setting on)
        unless origin_user_id is given."""
        origin: JsonDict
        if origin_user_id is None:
            origin = {"type": "hidden_user", "date": _now() - 3600, "sender_user_name": origin_name}
        else:
            origin = {
                "type": "user",
                "date": _now() - 3600,
                "sender_user": {"id": origin_user_id, "is_bot": False, "first_name": origin_name},
            }
        return self._message_update(
            user_id, {"text": text, "forward_origin": origin}, chat_id=chat_id,
            language_code=language_code, first_name=first_name, update_id=update_id,
        )

    def _message_update(
        self,
        user_id: int,
        extra: JsonDict,
        *,
        chat_id: int | None,
        chat_type: str = "private",
        language_code: str,
        first_name: str,
        update_id: int | None,
    ) -> JsonDict:
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else DEFAULT_GROUP_CHAT_ID
        if chat_type == "private":
            chat: JsonDict = {"id": chat_id, "first_name": first_name, "type": "private"}
        else:
            chat = {"id": chat_id, "title": "Relawan Pendamping", "type": chat_type}
        with self._cond:
            message: JsonDict = {
                "message_id": self._take_message_id(chat_id),
                "from": _user(user_id, first_name, language_code),
                "chat": chat,
                "date": _now(),
                **copy.deepcopy(extra),
            }
            return {"update_id": self._take_update_id(update_id), "message": message}

    def _take_update_id(self, update_id: int | None) -> int:
        with self._cond:
            if update_id is None:
                update_id = self._next_update_id
            self._next_update_id = max(self._next_update_id, update_id + 1)
            return update_id

    def _take_message_id(self, chat_id: int) -> int:
        with self._cond:
            self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
            return self._last_message_id[chat_id]

    def _chat_object(self, chat_id: int, first_name: str = "User") -> JsonDict:
        known = self._chats.get(chat_id)
        if known is not None:
            return copy.deepcopy(known)
        if chat_id > 0:
            return {"id": chat_id, "first_name": first_name, "type": "private"}
        if chat_id <= -1_000_000_000_000:
            return {"id": chat_id, "title": "Relawan Pendamping", "type": "supergroup"}
        return {"id": chat_id, "title": "Relawan Pendamping", "type": "group"}

    # ---- request entry points ---------------------------------------------------------------

    def handle(self, method: str, params: Mapping[str, Any] | None = None) -> tuple[int, JsonDict]:
        """Answer one call, blocking: getUpdates long-polls and a hang sleeps hang_seconds (then
        answers 504; the hung call has no effect). Returns (HTTP status, JSON body)."""
        call, failure = self._begin(method, params)
        if failure is not None:
            if failure.status == 0:
                # PTB stretches its read timeout by a getUpdates long-poll timeout, so the hang
                # must too to stay a timeout for the client.
                seconds = self.hang_seconds + (
                    self._poll_timeout(call.params) if call.method == "getUpdates" else 0.0
                )
                with self._cond:
                    call.status = 0
                    epoch = self._interrupts
                    self._cond.wait_for(lambda: self._interrupts != epoch, seconds)
                return _ApiError(504, "Gateway Timeout").reply()
            return self._finish(call, failure.error().reply())
        if call.method == "getUpdates":
            return self._finish(call, self._get_updates_blocking(call.params))
        return self._finish(call, self._execute(call.method, call.params))

    async def _handle_async(
        self, method: str, params: Mapping[str, Any] | None = None
    ) -> tuple[int, JsonDict] | None:
        """handle() for an event loop: never blocks it (the long poll awaits); a hang returns
        None at once so the caller can raise a timeout."""
        call, failure = self._begin(method, params)
        if failure is not None:
            if failure.status == 0:
                with self._cond:
                    call.status = 0
                return None
            return self._finish(call, failure.error().reply())
        if call.method == "getUpdates":
            return self._finish(call, await self._get_updates_async(call.params))
        return self._finish(call, self._execute(call.method, call.params))

    def _begin(self, method: str, params: Mapping[str, Any] | None) -> tuple[Call, _Failure | None]:
        with self._cond:
            known = self._methods.get(method.lower())
            call = Call(known[0] if known else method, dict(params or {}), time.monotonic())
            self._calls.append(call)
            now = time.monotonic()
            self._failures = [
                f for f in self._failures
                if (f.remaining is None or f.remaining > 0) and (f.deadline is None or f.deadline > now)
            ]
            failure = next((f for f in self._failures if f.matches(call.method, call.params, now)), None)
            if failure is not None and failure.remaining is not None:
                failure.remaining -= 1
            self._notify()
            return call, failure

    def _finish(self, call: Call, reply: tuple[int, JsonDict]) -> tuple[int, JsonDict]:
        with self._cond:
            call.status = reply[0]
            self._notify()
        return reply

    def _execute(self, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        with self._cond:
            known = self._methods.get(method.lower())
            if known is None:
                return _ApiError(404, "Not Found").reply()
            try:
                result = known[1](params)
            except _ApiError as error:
                return error.reply()
            self._notify()
            return 200, {"ok": True, "result": copy.deepcopy(result)}

    def _notify(self, *, updates: bool = False) -> None:
        self._cond.notify_all()
        if updates:
            for wake in list(self._async_waiters):
                wake()

    # ---- getUpdates -------------------------------------------------------------------------

    def _get_updates_now(self, params: JsonDict) -> list[JsonDict]:
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _maybe_int(params.get("offset")) or 0
        limit = min(max(_maybe_int(params.get("limit")) or 100, 1), 100)
        if offset > 0:
            # An update is confirmed (forgotten) once getUpdates asks for a higher offset.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        return copy.deepcopy(self._pending[:limit])

    def _poll_timeout(self, params: JsonDict) -> float:
        value = params.get("timeout")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return max(float(value), 0.0)
        return 0.0

    def _get_updates_blocking(self, params: JsonDict) -> tuple[int, JsonDict]:
        deadline = time.monotonic() + self._poll_timeout(params)
        with self._cond:
            epoch = self._interrupts
            while True:
                try:
                    updates = self._get_updates_now(params)
                except _ApiError as error:
                    return error.reply()
                remaining = deadline - time.monotonic()
                if updates or remaining <= 0 or self._interrupts != epoch:
                    return 200, {"ok": True, "result": updates}
                self._cond.wait(remaining)

    async def _get_updates_async(self, params: JsonDict) -> tuple[int, JsonDict]:
        # A threading wait here would freeze the bot's event loop (and the test pushing updates
        # from it), and a worker thread would outlive a cancelled poll; so wait on an asyncio
        # Event that push_update sets from whatever thread it runs in.
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self._poll_timeout(params)
        epoch = self._interrupts
        while True:
            event = asyncio.Event()

            def wake(event: asyncio.Event = event) -> None:
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # the loop is closed; nobody waits any more
                    pass

            with self._cond:
                try:
                    updates = self._get_updates_now(params)
                except _ApiError as error:
                    return error.reply()
                remaining = deadline - time.monotonic()
                if updates or remaining <= 0 or self._interrupts != epoch:
                    return 200, {"ok": True, "result": updates}
                self._async_waiters.append(wake)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                with self._cond:
                    if wake in self._async_waiters:
                        self._async_waiters.remove(wake)

    # ---- methods (called with the lock held) ------------------------------------------------

    def _true(self, params: JsonDict) -> bool:
        return True

    def _get_me(self, params: JsonDict) -> JsonDict:
        return self._bot_user

    def _target_chat(self, params: JsonDict) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        chat_id = _maybe_int(value)
        if chat_id is None:
            wanted = str(value).lstrip("@").lower()
            for known in self._chats.values():
                if str(known.get("username", "")).lower() == wanted:
                    return int(known["id"])
            raise _bad_request("chat not found")
        return chat_id

    def _inline_markup(self, value: object, *, editing: bool = False) -> JsonDict | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _bad_request("can't parse reply keyboard markup JSON object") from None
        if not isinstance(value, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in value:
            if editing:
                raise _bad_request("inline keyboard expected")
            # Reply keyboards, ReplyKeyboardRemove and ForceReply are accepted but, as on
            # Telegram, not part of the returned Message (see calls for what was sent).
            return None
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                    raise _bad_request("BUTTON_TEXT_INVALID")
                if len(button) == 1:
                    raise _bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not (isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= 64):
                    raise _bad_request("BUTTON_DATA_INVALID")
        return copy.deepcopy(value)

    def _formatted(self, params: JsonDict) -> tuple[str, list[JsonDict]]:
        raw = params.get("text")
        if not isinstance(raw, str) or not raw:
            raise _bad_request("message text is empty")
        text, entities = _format_text(raw, params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > 4096:
            raise _bad_request("message is too long")
        return text, entities

    def _send_message(self, params: JsonDict) -> JsonDict:
        chat_id = self._target_chat(params)
        text, entities = self._formatted(params)
        markup = self._inline_markup(params.get("reply_markup"))
        message: JsonDict = {
            "message_id": self._take_message_id(chat_id),
            "from": copy.deepcopy(self._bot_user),
            "chat": self._chat_object(chat_id),
            "date": _now(),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._messages.setdefault(chat_id, []).append(message)
        return message

    def _message_to_edit(self, params: JsonDict) -> JsonDict:
        if params.get("inline_message_id") is not None:
            raise _bad_request("message to edit not found")  # inline messages are not modelled
        chat_id = self._target_chat(params)
        message_id = _maybe_int(params.get("message_id"))
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        if (chat_id, message_id) not in self._deleted:
            for message in self._messages.get(chat_id, []):
                if message["message_id"] == message_id:
                    return message
        raise _bad_request("message to edit not found")

    def _apply_edit(self, message: JsonDict, text: str, entities: list[JsonDict], markup: JsonDict | None) -> JsonDict:
        if (text, entities, markup) == (message.get("text"), message.get("entities", []), message.get("reply_markup")):
            raise _ApiError(400, _NOT_MODIFIED)
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = _now()
        return message

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        message = self._message_to_edit(params)
        text, entities = self._formatted(params)
        # As on Telegram: an edit without reply_markup removes the inline keyboard.
        markup = self._inline_markup(params.get("reply_markup"), editing=True)
        return self._apply_edit(message, text, entities, markup)

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        message = self._message_to_edit(params)
        markup = self._inline_markup(params.get("reply_markup"), editing=True)
        return self._apply_edit(message, message["text"], message.get("entities", []), markup)

    def _delete_message(self, params: JsonDict) -> bool:
        chat_id = self._target_chat(params)
        message_id = _maybe_int(params.get("message_id"))
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        exists = any(m["message_id"] == message_id for m in self._messages.get(chat_id, []))
        if not exists or (chat_id, message_id) in self._deleted:
            raise _bad_request("message to delete not found")
        self._deleted.add((chat_id, message_id))
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = params.get("callback_query_id")
        if str(query_id) not in self._callback_ids:
            raise _ApiError(400, _QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_answers.append(copy.deepcopy(params))
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _command_key(self, params: JsonDict) -> tuple[str, str]:
        scope = params.get("scope")
        if scope is not None and (not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES):
            raise _bad_request("can't parse BotCommandScope JSON object")
        language = params.get("language_code") or ""
        return _scope_key(scope), str(language)

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        stored: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": str(command["command"]), "description": description})
        key = self._command_key(params)
        if stored:
            self._commands[key] = stored
        else:
            self._commands.pop(key, None)  # an empty list is how Telegram deletes them too
        return True

    def _get_my_commands(self, params: JsonDict) -> list[dict[str, str]]:
        return self._commands.get(self._command_key(params), [])

    def _delete_my_commands(self, params: JsonDict) -> bool:
        self._commands.pop(self._command_key(params), None)
        return True

    def _set_my_description(self, params: JsonDict) -> bool:
        return self._set_text("description", params, 512)

    def _get_my_description(self, params: JsonDict) -> JsonDict:
        return {"description": self._descriptions.get(("description", str(params.get("language_code") or "")), "")}

    def _set_my_short_description(self, params: JsonDict) -> bool:
        return self._set_text("short_description", params, 120)

    def _get_my_short_description(self, params: JsonDict) -> JsonDict:
        key = ("short_description", str(params.get("language_code") or ""))
        return {"short_description": self._descriptions.get(key, "")}

    def _set_text(self, kind: str, params: JsonDict, limit: int) -> bool:
        value = str(params.get(kind) or "")
        if len(value) > limit:
            raise _bad_request(f"{kind.upper()}_INVALID")
        self._descriptions[(kind, str(params.get("language_code") or ""))] = value
        return True

    def _set_webhook(self, params: JsonDict) -> bool:
        url = str(params.get("url") or "")
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        if not url:
            self._webhook = None
            return True
        loopback = self.loopback_webhooks and url.lower().startswith("http://127.0.0.1:")
        if not url.lower().startswith("https://") and not loopback:
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook = {k: copy.deepcopy(v) for k, v in params.items() if k != "drop_pending_updates"}
        self._notify(updates=True)  # a long poll in progress now conflicts
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        return True

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook is not None:
            info["url"] = self._webhook["url"]
            info["max_connections"] = self._webhook.get("max_connections", 40)
            if "allowed_updates" in self._webhook:
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info


def _user(user_id: int, first_name: str, language_code: str) -> JsonDict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}


def _scope_key(scope: Mapping[str, Any] | None) -> str:
    if not scope or set(scope) == {"type"}:
        return str((scope or {}).get("type", "default"))
    return json.dumps(dict(scope), sort_keys=True, separators=(",", ":"))


def _route(api: FakeBotApi, path: str) -> tuple[str, bool]:
    """(method, token ok) for ``<any base URL>/bot<token>/<method>``. What follows the token is
    the method, so a file path (``/file/bot<token>/photos/1.jpg``) is an unknown method (404)."""
    segments = [urllib.parse.unquote(s) for s in path.split("/") if s]
    for index, segment in enumerate(segments):
        if segment in (f"bot{api.token}", api.token):
            return "/".join(segments[index + 1 :]), True
    return "", False


def _unauthorized() -> tuple[int, JsonDict]:
    # Real Telegram answers a wrong token with 401; PTB raises InvalidToken.
    return _ApiError(401, "Unauthorized").reply()


# --------------------------------------------------------------------------------------------


def mock_transport(api: FakeBotApi) -> httpx.MockTransport:
    """An httpx transport answering from ``api``; use as
    ``HTTPXRequest(httpx_kwargs={"transport": mock_transport(api)})``.

    The handler is async so a long-polling getUpdates awaits instead of blocking the event loop.
    A hang failure raises httpx.ReadTimeout at once (PTB turns it into TimedOut) rather than
    sleeping: MockTransport does not enforce httpx timeouts anyway.
    """

    async def handler(request: httpx.Request) -> httpx.Response:
        method, token_ok = _route(api, request.url.path)
        if not token_ok:
            status, body = _unauthorized()
            return httpx.Response(status, json=body)
        try:
            params = parse_request_params(
                request.headers.get("content-type", ""),
                request.content,
                request.url.query.decode("ascii", "replace"),
            )
        except ValueError as error:
            status, body = _bad_request(f"can't parse request: {error}").reply()
            return httpx.Response(status, json=body)
        reply = await api._handle_async(method, params)
        if reply is None:
            raise httpx.ReadTimeout("fake Bot API: injected hang", request=request)
        status, body = reply
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Don't join handler threads on close: one may sit in a long poll or an idle keep-alive.
    block_on_close = False
    # A burst of new connections (100 chats answered at once) overflows socketserver's default of 5.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], api: FakeBotApi) -> None:
        super().__init__(address, _Handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so httpx keeps connections alive, as it would with Telegram.
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection frees its thread eventually
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        api = cast(_HttpServer, self.server).api
        split = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        method, token_ok = _route(api, split.path)
        if not token_ok:
            status, reply = _unauthorized()
        else:
            try:
                params = parse_request_params(self.headers.get("Content-Type", ""), body, split.query)
            except ValueError as error:
                status, reply = _bad_request(f"can't parse request: {error}").reply()
            else:
                status, reply = api.handle(method, params)
        payload = json.dumps(reply).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a hang outlived its timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; FakeBotApi.calls is the log


class FakeBotApiServer:
    """Serves a FakeBotApi over HTTP on 127.0.0.1 (a free port), in a background thread.

    ``with FakeBotApiServer(api) as server: Bot(api.token, base_url=server.base_url)``.
    Each request gets its own thread, so a long-polling getUpdates never blocks a sendMessage.
    """

    def __init__(self, api: FakeBotApi | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api if api is not None else FakeBotApi()
        self._address = (host, port)
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` - PTB appends the token (``base_url=`` of Bot)."""
        if self._server is None:
            raise RuntimeError("FakeBotApiServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/bot"

    def start(self) -> str:
        if self._server is None:
            self._server = _HttpServer(self._address, self.api)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-bot-api",
                daemon=True,
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self.api.interrupt_waits()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeBotApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

