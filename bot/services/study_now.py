"""The study behind one release, looked up now if need be: `releasebot cite REF --study`.

The bot's lookup job finds studies in the background; a person at the command line asking
for one that is not known yet should not have to wait for it. `study_now` asks the DOI
resolver / NCBI (bot/fetch/studies.py) for the release's identifiers that are due, in the
release's order, stops at the first study found, and records every answer in the store
(`record_study_found` / `record_study_miss`, by the lookup job's retry and give-up rules) so
that the running bot does not ask again, and edits the posts sent within `[study]
edit_window` to show a study found here.
An identifier the services answered recently (not registered, failed, told to wait) is
not asked again before its `retry_at`: the same politeness as the job's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import StudySettings
from bot.errors import StoreError
from bot.fetch.studies import StudyAnswer, StudyClient
from bot.models import Study, StudyRef
from bot.services.studies import record_found, record_miss
from bot.store import Store
from bot.store.studies import StudyLookup

log = logging.getLogger(__name__)

# When an identifier is asked again after each kind of miss (the issue: a 404 is "not
# registered" and not retried for a day; an unusable answer will not mend sooner either).


@dataclass(frozen=True, slots=True)
class StudyNow:
    """The release's study (None when there is none to cite) and, without one, why: one
    line per identifier, e.g. "doi:10.1/x: not registered with the DOI resolver"."""

    study: Study | None
    reasons: tuple[str, ...] = ()


async def study_now(
    settings: StudySettings,
    store: Store,
    release_id: int,
    now: datetime,
    client: StudyClient | None = None,
) -> StudyNow:
    """The study of `release_id`: known already, or looked up now (when `[study]` is
    enabled). `client` is opened from `settings` when not given."""
    stored = store.release(release_id)
    if stored is not None and stored.study is not None:
        return StudyNow(stored.study)
    lookups = [item for item in store.release_study_refs(release_id) if item.state != "found"]
    if not lookups:
        return StudyNow(None)
    if not settings.enabled:
        off = "not looked up ([study] enabled = false)"
        return StudyNow(None, tuple(f"{label(item.ref)}: {off}" for item in lookups))
    due = [lookup for lookup in lookups if _due(lookup, now)]
    reasons = {lookup.ref.key: _reason(lookup) for lookup in lookups if lookup not in due}
    if due:
        if client is None:
            async with StudyClient(settings) as opened:
                found = await _ask(opened, store, due, now, reasons, settings.edit_window)
        else:
            found = await _ask(client, store, due, now, reasons, settings.edit_window)
        if found is not None:
            return StudyNow(found)
    return StudyNow(None, tuple(reasons[lookup.ref.key] for lookup in lookups))


async def _ask(
    client: StudyClient,
    store: Store,
    due: Sequence[StudyLookup],
    now: datetime,
    reasons: dict[str, str],
    edit_window: float,
) -> Study | None:
    for lookup in due:
        answer = await client.lookup(lookup.ref)
        _record(store, lookup.ref, answer, now, edit_window)
        if answer.study is not None:
            return answer.study
        reasons[lookup.ref.key] = f"{label(lookup.ref)}: {_answer_reason(answer, lookup.ref)}"
    return None


def _due(lookup: StudyLookup, now: datetime) -> bool:
    """As the job reads the cache: pending is asked unless told to wait; a miss is asked
    again at its retry_at, and never once given up (retry_at None)."""
    if lookup.retry_at is None:
        return lookup.state == "pending"
    return lookup.retry_at <= now


def _record(
    store: Store, ref: StudyRef, answer: StudyAnswer, now: datetime, edit_window: float
) -> None:
    """Keep the answer as the lookup job would (its retry and give-up rules), so the running
    bot does not ask again and edits the posts sent within `[study] edit_window` to show a
    study found here; a database this user may only read keeps nothing, and the answer is
    still shown."""
    try:
        if answer.state == "found" and answer.study is not None:
            record_found(store, ref, answer.study, now, edit_window)
        else:
            record_miss(store, ref, answer, now)
    except StoreError as exc:
        log.warning("the answer for %s was not recorded: %s", ref.key, exc)


def label(ref: StudyRef) -> str:
    """An identifier as a reader writes it: doi:10.1523/…, PMID 24695721, PMC3972727."""
    if ref.kind == "doi":
        return f"doi:{ref.value}"
    if ref.kind == "pmid":
        return f"PMID {ref.value}"
    return ref.value.upper()


def _registry(ref: StudyRef) -> str:
    return "the DOI resolver" if ref.kind == "doi" else "PubMed"


def _answer_reason(answer: StudyAnswer, ref: StudyRef) -> str:
    if answer.state == "not_registered":
        return f"not registered with {_registry(ref)}"
    if answer.state == "retry":
        return f"the study service did not answer ({answer.error or 'busy'}); try again later"
    return f"the answer could not be used ({answer.error or 'no reason given'})"


def _reason(lookup: StudyLookup) -> str:
    """Why an identifier not asked now has no study: its last answer and when it is due."""
    again = f"; asked again after {_when(lookup.retry_at)}" if lookup.retry_at else ""
    if lookup.retry_at is None and lookup.state != "pending":
        again = "; given up, not asked again"
    if lookup.state == "not_registered":
        what = f"not registered with {_registry(lookup.ref)}"
    elif lookup.state == "failed":
        what = f"the answer could not be used ({lookup.error or 'no reason given'})"
    else:
        what = "the study service asked to wait"
    return f"{label(lookup.ref)}: {what}{again}"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "never"
