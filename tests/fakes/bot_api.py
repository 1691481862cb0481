"""A strict fake Telegram Bot API server on 127.0.0.1, for tests and benchmarks.

The real python-telegram-bot client talks to it over HTTP:

    with FakeBotAPI(time_scale=0.01) as api:
        api.add_chat(-1001, "channel", username="news")
        bot = Bot(api.token, base_url=api.base_url)
        async with bot:
            await bot.send_message("@news", "<b>hi</b>", parse_mode="HTML")
        assert api.messages("@news")[0].text == "hi"

Requests are `POST /bot<token>/<method>` with form-encoded, JSON or multipart bodies
(python-telegram-bot 22 sends `application/x-www-form-urlencoded` through httpx, nested
objects as JSON strings, and an empty body when a method has no parameters); GET with a
query string works too, as on the real server. One thread per connection, so a held
getUpdates long poll never blocks other calls. Files are downloaded with GET
`/file/bot<token>/<file_path>` (give PTB `base_file_url=api.base_file_url`). What each
method checks lives in bot_api_methods.py, bot_api_admin.py (members, topics, command
scopes) and bot_api_files.py; chats and read-back in bot_api_state.py; injected
updates in bot_api_updates.py.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.bot_api_files import MAX_UPLOAD_BYTES, TOO_LARGE, UploadedFile
from tests.fakes.bot_api_objects import ApiError, LoggedRequest
from tests.fakes.bot_api_state import DEFAULT_TOKEN, BotApiState

__all__ = ["DEFAULT_TOKEN", "FakeBotAPI"]

_PATH = re.compile(r"^/bot([^/]*)/([^/]*)$")
_FILE_PATH = re.compile(r"^/file/bot([^/]*)/(.+)$")
_MULTIPART_OVERHEAD = 64 * 1024  # form fields around the file itself


class FakeBotAPI(BotApiState):
    """The fake server: BotApiState's scripting and read-back API plus an HTTP listener."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "releasebot_test_bot",
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        local: bool = False,
    ) -> None:
        super().__init__(token, username=username, time_scale=time_scale, clock=clock, local=local)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What to give `ApplicationBuilder().base_url(...)`: the token is appended to it."""
        if self._server is None:
            raise RuntimeError("the fake Bot API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/bot"

    def start(self) -> FakeBotAPI:
        """Start listening in a background thread; returns self."""
        if self._server is None:
            self.reopen()
            self._server = _Server(self._address, _Handler, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-bot-api",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """End long polls, stop listening and close the socket."""
        self.release_waiters()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def handle_http(
        self, path: str, content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any] | bytes]:
        """Answer one HTTP request: check the path and token, decode the body, call the method
        (or give the raw answer scripted with `answer_next_raw`)."""
        parts = urlsplit(path)
        match = _PATH.match(parts.path)
        if match is None:
            return 404, ApiError(404, "Not Found").to_json()
        token, method = match.groups()
        params: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        error: ApiError | None
        try:
            params.update(_body_params(content_type, body))
        except ApiError as exc:
            error = exc
        else:
            error = None
        if token != self.token:
            error = ApiError(401, "Unauthorized: invalid token specified")
        if error is not None:
            self.log_request(LoggedRequest(method, params, error.status, error.description))
            return error.status, error.to_json()
        raw = self.take_raw_answer(method)
        if raw is not None:
            self.log_request(LoggedRequest(method, params, raw[0], "scripted raw answer"))
            return raw
        return self.call(method, params)


def _body_params(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a request body the ways the Bot API accepts."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    try:
        if kind == "application/json":
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            return data
        if kind == "multipart/form-data":
            return _multipart_fields(content_type, body)
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Bad Request: strings must be encoded in UTF-8") from exc
    except ValueError as exc:
        raise ApiError(400, "Bad Request: can't parse JSON object") from exc
    return dict(parse_qsl(text, keep_blank_values=True))


def _multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    header = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        if isinstance(name, str) and isinstance(payload, bytes):
            if filename:
                kind = part.get_content_type() if part.get("Content-Type") else None
                fields[name] = UploadedFile(filename, kind, payload)
            else:
                fields[name] = payload.decode("utf-8")
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a burst of 30 sends opens 30 connections at once
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], api: FakeBotAPI
    ) -> None:
        self.api = api
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    timeout = 120  # a client that vanishes does not hold its thread forever
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = _PATH.match(urlsplit(self.path).path)
        if match is not None and self.server.api.take_drop(match.group(2)):
            self.close_connection = True  # no status line: the client sees the socket close
            return
        if length > MAX_UPLOAD_BYTES + _MULTIPART_OVERHEAD:  # refused before it is parsed
            method = match.group(2) if match is not None else ""
            self.server.api.log_request(LoggedRequest(method, {}, 413, TOO_LARGE.description))
            self._answer(413, TOO_LARGE.to_json())
            return
        status, payload = self.server.api.handle_http(
            self.path, self.headers.get("Content-Type", ""), body
        )
        self._answer(status, payload)

    def _answer(
        self, status: int, payload: dict[str, Any] | bytes, kind: str = "application/json"
    ) -> None:
        if isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up, e.g. an abandoned long poll

    def do_GET(self) -> None:
        file_match = _FILE_PATH.match(urlsplit(self.path).path)
        if file_match is None:
            self.do_POST()
            return
        status, payload = self.server.api.serve_file(*file_match.groups())
        self._answer(
            status, payload, "application/octet-stream" if status == 200 else "application/json"
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
