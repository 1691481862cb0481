"""Convert between stored rows (ISO strings) and the dataclasses in bot.models."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from bot.feeds.order import instant_text as instant_text  # the store's one time format
from bot.feeds.order import sort_key
from bot.models import PubDate, Release, StoredRelease, Study, StudyAuthor


def date_to_text(value: PubDate | None) -> str | None:
    """A date as 'YYYY-MM-DD', an aware datetime as ISO 8601 with its own offset."""
    return None if value is None else value.isoformat()


def text_to_date(text: str | None) -> PubDate | None:
    if not text:
        return None
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def text_to_instant(text: str | None) -> datetime | None:
    """The inverse of instant_text (None stays None)."""
    return datetime.fromisoformat(text) if text else None


def categories_to_text(categories: tuple[str, ...]) -> str:
    """Categories as stored: a JSON array of strings, in order."""
    return json.dumps(list(categories), ensure_ascii=False)


def text_to_categories(text: str | None) -> tuple[str, ...]:
    """The inverse of categories_to_text; none for a row without any (NULL, '', not a list
    of strings: a row written by hand is no reason to fail a read)."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def content_hash(release: Release) -> str:
    """Changes when what a reader sees (title or summary) changes."""
    digest = hashlib.sha256(f"{release.title}\0{release.summary}".encode())
    return digest.hexdigest()


def release_row(release: Release, *, first_seen: datetime) -> dict[str, Any]:
    return {
        "feed": release.feed,
        "key": release.key,
        "title": release.title,
        "link": release.link,
        "url": release.url,
        "published": date_to_text(release.published),
        "updated": date_to_text(release.updated),
        "sort_at": sort_key(release, first_seen),
        "author": release.author,
        "feed_author": release.feed_author,
        "feed_title": release.feed_title,
        "summary": release.summary,
        "language": release.language,
        "categories": categories_to_text(release.categories),
        "content_hash": content_hash(release),
        "first_seen": instant_text(first_seen),
    }


def row_to_stored(row: dict[str, Any]) -> StoredRelease:
    release = Release(
        feed=row["feed"],
        key=row["key"],
        title=row["title"],
        link=row["link"],
        url=row["url"],
        published=text_to_date(row["published"]),
        updated=text_to_date(row["updated"]),
        author=row["author"],
        feed_author=row["feed_author"],
        feed_title=row["feed_title"],
        summary=row["summary"],
        language=row["language"],
        categories=text_to_categories(row.get("categories")),
    )
    first_seen = datetime.fromisoformat(row["first_seen"])
    cite_key = row.get("cite_key") or ""
    return StoredRelease(id=row["id"], release=release, first_seen=first_seen, cite_key=cite_key)


def study_to_text(study: Study) -> str:
    """A study as stored in `studies.data`: a JSON object of its fields."""
    fields = {name: getattr(study, name) for name in Study.__dataclass_fields__}
    fields["authors"] = [
        {"family": a.family, "given": a.given, "literal": a.literal} for a in study.authors
    ]
    fields["issued"] = list(study.issued)
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def text_to_study(text: str | None) -> Study | None:
    """The inverse of study_to_text; None for a row that is not one (NULL, hand-edited)."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("doi"), str):
        return None
    strings = {
        name: value[name]
        for name in Study.__dataclass_fields__
        if name not in ("authors", "issued") and isinstance(value.get(name), str)
    }
    authors = tuple(
        StudyAuthor(**{k: v for k, v in item.items() if k in ("family", "given", "literal")})
        for item in value.get("authors") or []
        if isinstance(item, dict) and all(isinstance(v, str) for v in item.values())
    )
    issued = tuple(part for part in value.get("issued") or [] if isinstance(part, int))
    return Study(**strings, authors=authors, issued=issued)
