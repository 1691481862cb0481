"""Telegram's parse_mode=HTML parser and message-text limits, as strict as the real server.

`parse_telegram_html` follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp) step by
step, on the UTF-8 bytes, so its error texts, their byte offsets and the order of its checks
match what the Bot API answers after "can't parse entities: ". tdlib reads a C string, so
a NUL byte ends a tag just like the end of the text; the parser keeps that with a NUL
sentinel. One rule is the fake's own: a blockquote inside a blockquote is an error here,
where the real server silently drops the inner quote (wrong output either way).

Entity offsets and lengths are in UTF-16 code units, as Telegram sends them.
`validate_message_text` adds the length rules sendMessage/editMessageText apply.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_links import LinkError, check_link

MAX_RAW_TEXT_BYTES = 32768
MAX_TEXT_CODE_POINTS = 4096

_SPACE = frozenset(b" \t\r\n\0\v")
_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji"}
    | {"span", "pre", "code", "blockquote"}
)
_SIMPLE_TYPES = {
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
}
_NAMED_ENTITIES = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
# tdlib's sort order for entities starting at the same place with the same length.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_INT64 = re.compile(r"-?[0-9]+")
_LT, _GT, _AMP, _SLASH, _EQ = b"<", b">", b"&", b"/", b"="
_QUOTES = frozenset(b"'\"")
_NAME_END = frozenset(b"=>/'\"") | _SPACE


class EntityParseError(ValueError):
    """The HTML is refused; `description` is tdlib's text after "can't parse entities: "."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


class BadRequest(Exception):  # noqa: N818 -- named after the Bot API's own error
    """A 400 answer; `description` is the whole text, e.g. "Bad Request: message is too long"."""

    error_code = 400

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


@dataclass(frozen=True)
class Entity:
    """One MessageEntity; offset and length count UTF-16 code units, as Telegram's do."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The entity as the Bot API serialises it."""
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        for key in ("url", "language", "custom_emoji_id"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class ParsedMessage:
    """Text as Telegram stores it after entity parsing, with its entities."""

    text: str
    entities: tuple[Entity, ...] = ()


def parse_telegram_html(text: str) -> ParsedMessage:
    """Parse `text` the way Telegram does for parse_mode=HTML; raise EntityParseError if refused."""
    return _HtmlParser(text.encode("utf-8")).parse()


def validate_message_text(
    text: str, *, parse_mode: str | None, max_length: int = MAX_TEXT_CODE_POINTS
) -> ParsedMessage:
    """Apply sendMessage's text rules; raise BadRequest with the Bot API's description."""
    if not text:
        raise BadRequest("Bad Request: message text is empty")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest("Bad Request: strings must be encoded in UTF-8") from exc
    if len(raw) > MAX_RAW_TEXT_BYTES:
        raise BadRequest("Bad Request: text is too long")
    if not parse_mode:
        parsed = ParsedMessage(text)
    elif parse_mode.lower() == "html":
        try:
            parsed = _HtmlParser(raw).parse()
        except EntityParseError as exc:
            raise BadRequest(f"Bad Request: can't parse entities: {exc.description}") from exc
    else:
        raise BadRequest("Bad Request: unsupported parse_mode")
    if not parsed.text.strip():
        raise BadRequest("Bad Request: text must be non-empty")
    if len(parsed.text) > max_length:
        raise BadRequest("Bad Request: message is too long")
    return parsed


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    byte_offset: int


@dataclass
class _Found:
    type: str
    offset: int
    length: int
    argument: str = ""


def _is_alpha(c: int) -> bool:
    return 0x61 <= (c | 0x20) <= 0x7A


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 0x61 <= (c | 0x20) <= 0x66


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the character reference at data[pos] ('&'): (code point, next position).

    Code 0 means it is not one and stays literal text, as in tdlib's decode_html_entity.
    """
    end = pos + 1
    code = 0
    if data[pos + 1] == ord("#"):
        end += 1
        if data[pos + 2] == ord("x"):
            end += 1
            while _is_hex(data[end]):
                code = code * 16 + int(chr(data[end]), 16)
                end += 1
        else:
            while _is_digit(data[end]):
                code = code * 10 + data[end] - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(data[end]):
            end += 1
        code = _NAMED_ENTITIES.get(data[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    if data[end] == ord(";"):
        end += 1
    return code, end


def _utf8(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _HtmlParser:
    """One pass over the UTF-8 bytes, mirroring tdlib's parse_html."""

    def __init__(self, raw: bytes) -> None:
        self.data = raw + b"\0"
        self.size = len(raw)
        self.out = bytearray()
        self.utf16 = 0
        self.has_surrogate = False
        self.stack: list[_OpenTag] = []
        self.found: list[_Found] = []

    def parse(self) -> ParsedMessage:
        data, i = self.data, 0
        while i < self.size:
            c = data[i]
            if c == _AMP[0]:
                code, end = _decode_entity(data, i)
                if code:
                    self.utf16 += 1 + (code > 0xFFFF)
                    self.has_surrogate |= 0xD800 <= code <= 0xDFFF
                    self.out += _utf8(code)
                    i = end
                    continue
            if c != _LT[0]:
                if c & 0xC0 != 0x80:
                    self.utf16 += 1 + (c >= 0xF0)
                self.out.append(c)
                i += 1
                continue
            i = self._end_tag(i) if data[i + 1] == _SLASH[0] else self._start_tag(i)
            i += 1
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        return ParsedMessage(self._text(), self._entities())

    def _text(self) -> str:
        try:
            return self.out.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from exc

    def _entities(self) -> tuple[Entity, ...]:
        entities = [
            Entity(
                type=f.type,
                offset=f.offset,
                length=f.length,
                url=f.argument if f.type == "text_link" else None,
                language=f.argument if f.type == "pre" and f.argument else None,
                custom_emoji_id=f.argument if f.type == "custom_emoji" else None,
            )
            for f in self.found
        ]
        entities.sort(key=lambda e: (e.offset, -e.length, _PRIORITY[e.type]))
        return tuple(entities)

    def _start_tag(self, begin: int) -> int:
        """Parse the start tag at `begin`; return the position of its closing '>'."""
        data, i = self.data, begin + 1
        while data[i] not in _SPACE and data[i] != _GT[0]:
            i += 1
        if data[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = _name(data[begin + 1 : i].lower())
        if tag not in _TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument, i = self._attributes(tag, begin, i)
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        if tag == "blockquote" and any(t.name == "blockquote" for t in self.stack):
            raise EntityParseError(f"Nested blockquote at byte offset {begin} is not allowed")
        self.stack.append(_OpenTag(tag, argument, self.utf16, len(self.out)))
        return i

    def _attributes(self, tag: str, begin: int, i: int) -> tuple[str, int]:
        data, argument = self.data, ""
        while data[i] != _GT[0]:
            while data[i] != 0 and data[i] in _SPACE:
                i += 1
            if data[i] == _GT[0]:
                break
            name_begin = i
            while data[i] not in _NAME_END:
                i += 1
            name = data[name_begin:i]
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while data[i] != 0 and data[i] in _SPACE:
                i += 1
            if data[i] != _EQ[0]:
                if data[i] == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == b"expandable":
                    argument = "1"
                continue
            i += 1
            while data[i] != 0 and data[i] in _SPACE:
                i += 1
            if data[i] == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self._attribute_value(i)
            if data[i] == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            argument = _argument(tag, name, value, argument)
        return argument, i

    def _attribute_value(self, i: int) -> tuple[bytes, int]:
        data = self.data
        if data[i] not in _QUOTES:
            # An unquoted value is an HTML name token: letters, digits, '.', '-'.
            token_begin = i
            while _is_alpha(data[i]) or _is_digit(data[i]) or data[i] in b".-":
                i += 1
            if data[i] not in _SPACE and data[i] != _GT[0]:
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return data[token_begin:i].lower(), i
        quote, value = data[i], bytearray()
        i += 1
        while data[i] != quote and data[i] != 0:
            if data[i] == _AMP[0]:
                code, end = _decode_entity(data, i)
                if code:
                    value += _utf8(code)
                    i = end
                    continue
            value.append(data[i])
            i += 1
        if data[i] == quote:
            i += 1
        return bytes(value), i

    def _end_tag(self, begin: int) -> int:
        """Parse the end tag at `begin`; return the position of its closing '>'."""
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        data, i = self.data, begin + 2
        while data[i] not in _SPACE and data[i] != _GT[0]:
            i += 1
        end_name = _name(data[begin + 2 : i].lower())
        while data[i] in _SPACE and data[i] != 0:
            i += 1
        if data[i] != _GT[0]:
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        open_tag = self.stack[-1]
        if end_name and end_name != open_tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{open_tag.name}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > open_tag.utf16_offset:
            self._add_entity(open_tag)
        self.stack.pop()
        return i

    def _add_entity(self, tag: _OpenTag) -> None:
        offset, length = tag.utf16_offset, self.utf16 - tag.utf16_offset
        last = self.found[-1] if self.found else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        if tag.name in _SIMPLE_TYPES:
            self.found.append(_Found(_SIMPLE_TYPES[tag.name], offset, length))
        elif tag.name == "tg-emoji":
            emoji_id = tag.argument
            if not _INT64.fullmatch(emoji_id) or str(int(emoji_id)) != emoji_id:
                raise EntityParseError("Invalid custom emoji identifier specified")
            if int(emoji_id) == 0 or not -(2**63) <= int(emoji_id) < 2**63:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.found.append(_Found("custom_emoji", offset, length, emoji_id))
        elif tag.name == "a":
            url = tag.argument or self.out[tag.byte_offset :].decode("utf-8", "replace")
            with contextlib.suppress(LinkError):  # tdlib drops a refused link, keeps the text
                self.found.append(_Found("text_link", offset, length, check_link(url)))
        elif tag.name == "pre":
            if same_span and last is not None and last.type == "code" and last.argument:
                last.type = "pre"
            else:
                self.found.append(_Found("pre", offset, length))
        elif tag.name == "code":
            if same_span and last is not None and last.type == "pre" and tag.argument:
                last.argument = tag.argument
            else:
                self.found.append(_Found("code", offset, length, tag.argument))
        else:
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self.found.append(_Found(kind, offset, length))


def _argument(tag: str, name: bytes, value: bytes, current: str) -> str:
    """What an attribute contributes to its tag, as tdlib reads it; others are ignored."""
    if tag == "a" and name == b"href":
        return _name(value)
    if tag == "code" and name == b"class" and value.startswith(b"language-"):
        return _name(value[9:])
    if tag == "span" and name == b"class" and value.startswith(b"tg-"):
        return _name(value[3:])
    if tag == "tg-emoji" and name == b"emoji-id":
        return _name(value)
    if tag == "blockquote" and name == b"expandable":
        return "1"
    return current
