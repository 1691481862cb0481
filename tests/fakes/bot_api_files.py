"""Files in the fake Bot API: sendDocument uploads, getFile and the file download URL.

python-telegram-bot uploads an InputFile as multipart/form-data (the part named after
the parameter, or `attach://<name>`); a string `document` is a file_id the fake knows.
Uploads over 50 MB answer 413 "Request Entity Too Large" (PTB: NetworkError); an
upload's mime type is guessed from its file name, as tdlib does, not taken from the client. getFile
answers a `file_path` for any file_id the fake knows (documents a test pushed in, and
the bot's own uploads), 400 "invalid file_id" for others and "file is too big" over
20 MB. A file is then served at GET `/file/bot<token>/<file_path>`, which is what PTB
fetches with `base_file_url` = `FakeBotAPI.base_file_url` (PTB's default is
`https://api.telegram.org/file/bot`; the token and the path are appended to it).

A mixin of `BotApiState`, whose attributes it uses.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.fakes.bot_api_objects import (
    ApiError,
    ChatRecord,
    FileRecord,
    MessageRecord,
    Params,
    bad_request,
)
from tests.fakes.telegram_html import BadRequest, ParsedMessage, validate_message_text

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_CAPTION = 1024
TOO_LARGE = ApiError(413, "Request Entity Too Large")


@dataclass(frozen=True)
class UploadedFile:
    """One multipart part that carried a file name: what the client uploaded."""

    filename: str
    content_type: str | None
    data: bytes

    def __str__(self) -> str:  # how the request log shows it
        return f"<file {self.filename!r}, {len(self.data)} bytes>"


@dataclass(frozen=True)
class Download:
    """One file download the fake served (or refused)."""

    file_path: str
    status: int


class FilesMixin:
    """sendDocument, getFile and downloads, with the test-side API to push documents."""

    bot_user: dict[str, Any]
    token: str
    _cond: threading.Condition
    _files: dict[str, FileRecord]
    _file_paths: dict[str, str]
    _next_file: int
    _downloads: list[Download]
    _messages: dict[int, dict[int, MessageRecord]]
    _sent: list[tuple[int, int]]

    if TYPE_CHECKING:  # provided by BotApiState and the other mixins

        def _resolve(self, ref: str) -> ChatRecord: ...
        def _new_message_id(self, chat_id: int) -> int: ...
        def _check_write_access(self, chat: ChatRecord) -> None: ...
        def _check_rate(self, method: str, chat: ChatRecord) -> None: ...
        def _check_thread(
            self, chat: ChatRecord, thread_id: int | None
        ) -> MessageRecord | None: ...
        def _reply_target(self, chat: ChatRecord, params: Params) -> MessageRecord | None: ...
        def _markup_param(self, params: Params) -> dict[str, Any] | None: ...

    def file_handlers(self) -> dict[str, Callable[[Params], Any]]:
        """Method name (lower case) to handler, for the methods this mixin answers."""
        return {"senddocument": self._send_document, "getfile": self._get_file}

    # --- test-side API ---------------------------------------------------------------------

    def add_file(
        self, data: bytes, file_name: str | None = None, mime_type: str | None = None
    ) -> FileRecord:
        """Register a file (as a user's upload to Telegram) and return it with its file_id."""
        with self._cond:
            self._next_file += 1
            n = self._next_file
            if mime_type is None and file_name is not None:
                mime_type = mimetypes.guess_type(file_name)[0]
            record = FileRecord(
                f"BQACAgIAAx-fake-document-{n}", f"AgAD-fake-{n}", file_name, mime_type, data
            )
            self._files[record.file_id] = record
            return record

    def file(self, file_id: str) -> FileRecord:
        """A known file by file_id (KeyError if none), with its file_path once getFile ran."""
        with self._cond:
            return self._files[file_id]

    @property
    def downloads(self) -> list[Download]:
        """Every file download asked for, in order."""
        with self._cond:
            return list(self._downloads)

    @property
    def base_file_url(self) -> str:
        """What to give `Bot(base_file_url=...)`/`ApplicationBuilder().base_file_url(...)`."""
        return self.base_url.removesuffix("/bot") + "/file/bot"

    if TYPE_CHECKING:

        @property
        def base_url(self) -> str: ...

    # --- methods ---------------------------------------------------------------------------

    def _send_document(self, params: Params) -> Any:
        chat_ref = params.text("chat_id")
        if not chat_ref:
            raise bad_request("chat_id is empty")
        caption_text, parse_mode = params.text("caption") or "", params.text("parse_mode") or None
        caption = _caption(caption_text, parse_mode)
        markup = self._markup_param(params)
        thread_id = params.integer("message_thread_id")
        with self._cond:
            document = self._document_param(params)
            chat = self._resolve(chat_ref)
            self._check_write_access(chat)
            root = self._check_thread(chat, thread_id)
            reply_to = self._reply_target(chat, params) or root
            self._check_rate("sendDocument", chat)
            record = MessageRecord(
                chat.id, self._new_message_id(chat.id), int(time.time()), caption.text
            )
            record.entities, record.html, record.parse_mode = (
                caption.entities,
                caption_text,
                parse_mode,
            )
            record.document, record.reply_markup, record.thread_id = document, markup, thread_id
            record.reply_to = reply_to
            record.disable_notification = params.flag("disable_notification")
            record.sent_by_bot = True
            self._messages[chat.id][record.message_id] = record
            self._sent.append((chat.id, record.message_id))
            return record.to_json(chat, self.bot_user)

    def _document_param(self, params: Params) -> FileRecord:
        value = params.raw.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.raw.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            if len(value.data) > MAX_UPLOAD_BYTES:
                raise TOO_LARGE
            if not value.data:
                raise bad_request("file must be non-empty")
            # tdlib names the type after the file's extension, whatever the client said
            kind = mimetypes.guess_type(value.filename)[0] or "application/octet-stream"
            return self.add_file(value.data, value.filename, kind)
        if value in (None, ""):
            raise bad_request("there is no document in the request")
        known = self._files.get(str(value))
        if known is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return known

    def _get_file(self, params: Params) -> Any:
        file_id = params.text("file_id") or ""
        with self._cond:
            record = self._files.get(file_id)
            if record is None:
                raise bad_request("invalid file_id")
            if record.file_size > MAX_DOWNLOAD_BYTES:
                raise bad_request("file is too big")
            if record.file_path is None:
                name = record.file_name or ""
                suffix = "." + name.rpartition(".")[2] if "." in name else ""
                path = f"documents/file_{record.file_id.rpartition('-')[2]}{suffix}"
                record = replace(record, file_path=path)
                self._files[file_id] = record
                self._file_paths[path] = file_id
            return {**record.to_json(), "file_path": record.file_path}

    def serve_file(self, token: str, path: str) -> tuple[int, dict[str, Any] | bytes]:
        """Answer GET /file/bot<token>/<path>: the bytes, or Telegram's 404 / 401."""
        token, path = unquote(token), unquote(path)  # PTB quotes the URL's path (":" too)
        with self._cond:
            file_id = self._file_paths.get(path) if token == self.token else None
            status = 200 if file_id is not None else (404 if token == self.token else 401)
            self._downloads.append(Download(path, status))
            if file_id is None:
                if status == 401:
                    return 401, ApiError(401, "Unauthorized").to_json()
                return 404, ApiError(404, "Not Found").to_json()
            return 200, self._files[file_id].data


def _caption(text: str, parse_mode: str | None) -> ParsedMessage:
    """A caption parsed as sendMessage's text, at most 1024 characters; none when empty."""
    if not text:
        return ParsedMessage("")
    try:
        parsed = validate_message_text(text, parse_mode=parse_mode, max_length=1 << 30)
    except BadRequest as exc:
        if exc.description == "Bad Request: text must be non-empty":
            return ParsedMessage("")
        raise ApiError(400, exc.description) from exc
    if len(parsed.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return parsed
