"""Look up the study behind a release: the DOI resolver's CSL-JSON, enriched from NCBI.

The one module that talks HTTP to the study services (`[study] doi_resolver`, content
negotiation for CSL-JSON; `[study] ncbi_api`, E-utilities esearch/esummary); the answers
are normalised by the pure bot/feeds/study_meta.py. `StudyClient.lookup(ref)` never
raises for what the services or the network do: it returns a `StudyAnswer` saying
found / not_registered / retry / failed. The caller (the lookup job) stores it and
schedules retries; this module sends no request twice on its own.

Polite by default, as Crossref and NCBI ask: a User-Agent naming release-bot and
`[study] contact_email` (Crossref's "polite pool" form), NCBI's `tool` and `email`
parameters, at most `requests_per_second` requests in any second across both services
and at most 3 a second to NCBI (its limit without an API key), each counted on the
injected clock. A 429's Retry-After holds that service back for every lookup until it
has passed.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Literal, Self
from urllib.parse import quote

import httpcore
import httpx

import bot
from bot.config import StudySettings
from bot.errors import (
    AddressRefusedError,
    FeedUnreachableError,
    StudyError,
    StudyMetadataError,
    StudyServiceError,
)
from bot.feeds.study_meta import (
    PubMedSummary,
    bare_doi,
    merge_study,
    parse_csl,
    parse_esearch,
    parse_esummary,
    study_from_pubmed,
)
from bot.fetch.addresses import Resolver, check_public_host, system_resolver
from bot.models import Study, StudyRef

__all__ = [
    "CSL_ACCEPT",
    "MAX_BYTES",
    "AnswerState",
    "RequestWindow",
    "Service",
    "StudyAnswer",
    "StudyClient",
    "StudyPacer",
    "study_user_agent",
]

log = logging.getLogger(__name__)

CSL_ACCEPT = "application/vnd.citationstyles.csl+json"
MAX_BYTES = 1024 * 1024  # a CSL-JSON record with a thousand authors is ~200 KB
MAX_REDIRECTS = 3  # doi.org sends content negotiation one hop on, to the agency
NCBI_REQUESTS_PER_SECOND = 3  # E-utilities' limit without an API key
TOOL = "releasebot"  # NCBI's `tool` parameter: one word naming the application
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_REGISTERED_STATUSES = frozenset({404, 410})
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# Characters a DOI may hold that would end or change a URL's path: escaped (doi.org's advice).
DOI_PATH_SAFE = "/:;()[]-._~,+=@!$'*"
# A Retry-After past this is read as this: a 429 holds every lookup of that service, and a
# broken or hostile one ("wait 3,000 years") would otherwise park them all for good.
MAX_RETRY_AFTER = 3600.0
PAUSE_AFTER_429 = 1.0  # seconds a service is left alone after a 429 without Retry-After
MIN_WAIT = 1e-6  # float rounding must never leave the pacer waiting 0 s with a full window
# The services count requests as they arrive, and a request can reach them sooner after
# the one before than it left (the first waited for its connection): each window is this
# much longer than the second it guards.
MARGIN = 0.2

Service = Literal["doi", "ncbi"]
AnswerState = Literal["found", "not_registered", "retry", "failed"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StudyAnswer:
    """What one lookup came to.

    - found: `study` is set. `error` may still note what was missing (NCBI did not answer,
      so no PubMed title), for the log; the study is usable.
    - not_registered: the DOI resolver (or NCBI, for a PMID/PMCID) does not know the id.
    - retry: a timeout, network error, 429 or 5xx; `retry_after` is the wait the service
      asked for (seconds), None when it named none (the caller backs off its own way).
    - failed: an answer that will not become usable by asking again soon (malformed JSON,
      406, a body over the cap); `error` says why.
    """

    state: AnswerState
    study: Study | None = None
    retry_after: float | None = None
    error: str = ""


def study_user_agent(contact_email: str = "") -> str:
    """`releasebot/0.1.0 (mailto:ops@example.org)`: the form Crossref's polite pool reads."""
    agent = f"releasebot/{bot.__version__}"
    return f"{agent} (mailto:{contact_email})" if contact_email else agent


class RequestWindow:
    """At most `limit` request starts in any window of `seconds` (a start at t counts in
    (t - seconds, t]). Time comes in as `now`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._starts: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds from `now` until one more start fits (0.0 when it fits now)."""
        while self._starts and self._starts[0] <= now - self.seconds:
            self._starts.popleft()
        if len(self._starts) < self.limit:
            return 0.0
        return max(self._starts[-self.limit] + self.seconds - now, MIN_WAIT)

    def record(self, now: float) -> None:
        self._starts.append(now)


class StudyPacer:
    """Spaces the requests of every lookup: `requests_per_second` across both services,
    NCBI's own limit on top, and a service's Retry-After honoured by everyone."""

    def __init__(self, requests_per_second: float, *, clock: Clock, sleep: Sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        if requests_per_second >= 1:
            overall = RequestWindow(math.floor(requests_per_second), 1.0 + MARGIN)
        else:
            overall = RequestWindow(1, 1.0 / requests_per_second + MARGIN)
        ncbi = RequestWindow(NCBI_REQUESTS_PER_SECOND, 1.0 + MARGIN)
        self._windows: dict[Service, tuple[RequestWindow, ...]] = {
            "doi": (overall,),
            "ncbi": (overall, ncbi),
        }
        self._held_until: dict[Service, float] = {}
        self._lock = asyncio.Lock()

    def held_for(self, service: Service) -> float:
        """Seconds left of the wait `service` asked for (0.0 when none)."""
        return max(0.0, self._held_until.get(service, 0.0) - self._clock())

    def hold(self, service: Service, seconds: float) -> None:
        """`service` asked for `seconds` of quiet (a 429's Retry-After)."""
        until = self._clock() + seconds
        self._held_until[service] = max(self._held_until.get(service, until), until)

    async def wait_turn(self, service: Service) -> None:
        """Return when one more request to `service` fits every window, counted as sent."""
        async with self._lock:  # one waiter at a time: turns go in order of asking
            while True:
                now = self._clock()
                windows = self._windows[service]
                wait = max(window.wait(now) for window in windows)
                if wait <= 0:
                    for window in windows:
                        window.record(now)
                    return
                await self._sleep(wait)


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes


class StudyClient:
    """Looks studies up on the configured DOI resolver and NCBI E-utilities.

    Use as `async with StudyClient(settings) as client: answer = await client.lookup(ref)`.
    `clock` (monotonic seconds) and `sleep` pace the requests (tests pass a virtual
    clock); `transport` replaces httpx's network transport.
    """

    def __init__(
        self,
        settings: StudySettings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str | None = None,
        max_bytes: int = MAX_BYTES,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        # The operator chose these two; a hop anywhere else must be a public address.
        self._trusted = {_origin(settings.doi_resolver), _origin(settings.ncbi_api)}
        self._max_bytes = max_bytes
        self._pacer = StudyPacer(settings.requests_per_second, clock=clock, sleep=sleep)
        self._in_flight = 0
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={
                "User-Agent": user_agent or study_user_agent(settings.contact_email),
                # Uncompressed: the cap then bounds what is held, and no bomb can inflate.
                "Accept-Encoding": "identity",
            },
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def requests_in_flight(self) -> int:
        """Requests sent and not yet answered (a virtual clock in tests waits for 0)."""
        return self._in_flight

    async def lookup(self, ref: StudyRef) -> StudyAnswer:
        """The study `ref` names, with PubMed's ids and title when NCBI has them."""
        try:
            if ref.kind == "doi":
                return await self._by_doi(bare_doi(ref.value) or ref.value.strip())
            if ref.kind == "pmid":
                return await self._by_pmid(ref.value.strip())
            return await self._by_pmcid(ref.value.strip())
        except StudyServiceError as exc:
            log.info("study lookup %s: %s", ref.key, exc.message)
            if exc.retryable:
                return StudyAnswer("retry", retry_after=exc.retry_after, error=exc.message)
            return StudyAnswer("failed", error=exc.message)
        except StudyError as exc:
            log.info("study lookup %s: %s", ref.key, exc.message)
            return StudyAnswer("failed", error=exc.message)

    # the three ways in

    async def _by_doi(self, doi: str) -> StudyAnswer:
        study = await self._csl(doi)
        if study is None:
            return StudyAnswer("not_registered", error=f"no DOI {doi} is registered")
        summary, note = await self._pubmed_for_doi(study.doi or doi)
        return StudyAnswer("found", merge_study(study, summary), error=note)

    async def _by_pmid(self, pmid: str) -> StudyAnswer:
        summary = await self._esummary("pubmed", pmid)
        if summary is None:
            return StudyAnswer("not_registered", error=f"PubMed has no record {pmid}")
        return await self._with_doi(summary, summary, None)

    async def _by_pmcid(self, pmcid: str) -> StudyAnswer:
        digits = pmcid.upper().removeprefix("PMC")
        pmc = await self._esummary("pmc", digits)
        if pmc is None:
            return StudyAnswer("not_registered", error=f"PubMed Central has no record {pmcid}")
        pubmed, note = None, ""
        if pmc.pmid:
            try:
                pubmed = await self._esummary("pubmed", pmc.pmid)
            except StudyError as exc:
                note = f"PubMed: {exc.message}"
        answer = await self._with_doi(pubmed or pmc, pubmed, pmc)
        return replace(answer, error=answer.error or note) if answer.state == "found" else answer

    async def _with_doi(
        self, summary: PubMedSummary, pubmed: PubMedSummary | None, pmc: PubMedSummary | None
    ) -> StudyAnswer:
        """NCBI's record, completed from the DOI resolver when it names a DOI. A transient
        failure of the resolver is a retry (the full record is worth the wait); when it
        does not know the DOI, or answers garbage, NCBI's record is the study."""
        if not summary.doi:
            return StudyAnswer("found", _from_ncbi(summary, pmc))
        try:
            study = await self._csl(summary.doi)
        except StudyMetadataError as exc:
            return StudyAnswer("found", _from_ncbi(summary, pmc), error=exc.message)
        except StudyServiceError as exc:
            if exc.retryable:
                raise
            return StudyAnswer("found", _from_ncbi(summary, pmc), error=exc.message)
        if study is None:
            note = f"the DOI resolver does not know {summary.doi}"
            return StudyAnswer("found", _from_ncbi(summary, pmc), error=note)
        return StudyAnswer("found", merge_study(merge_study(study, pubmed), pmc))

    # the services

    async def _csl(self, doi: str) -> Study | None:
        """The DOI's CSL-JSON as a Study; None when the resolver knows no such DOI."""
        url = self._settings.doi_resolver + _doi_path(doi)
        reply = await self._get("doi", url, {"Accept": CSL_ACCEPT})
        if reply.status in NOT_REGISTERED_STATUSES or reply.status == 204:
            return None  # 204: the DOI exists but its agency has no metadata to give
        return parse_csl(reply.body, doi)

    async def _pubmed_for_doi(self, doi: str) -> tuple[PubMedSummary | None, str]:
        """PubMed's record for `doi` and "", or None and why not. NCBI failing never
        costs the study: it is found without PubMed's ids and title."""
        try:
            body = await self._ncbi("esearch.fcgi", db="pubmed", term=f'"{doi}"[doi]')
            pmids = parse_esearch(body)
            if not pmids:
                return None, ""
            return await self._esummary("pubmed", pmids[0]), ""
        except StudyError as exc:
            log.info("PubMed lookup of %s: %s", doi, exc.message)
            return None, f"PubMed: {exc.message}"

    async def _esummary(self, db: Literal["pubmed", "pmc"], uid: str) -> PubMedSummary | None:
        if not uid.isascii() or not uid.isdigit():
            return None  # NCBI would say "Invalid uid"; no request needed to know
        body = await self._ncbi("esummary.fcgi", db=db, id=uid)
        return parse_esummary(body, uid, db)

    async def _ncbi(self, endpoint: str, **params: str) -> bytes:
        params["retmode"] = "json"
        params["tool"] = TOOL
        if self._settings.contact_email:
            params["email"] = self._settings.contact_email
        url = str(httpx.URL(self._settings.ncbi_api + endpoint, params=params))
        reply = await self._get("ncbi", url, {"Accept": "application/json"})
        if reply.status != 200:
            raise StudyServiceError(
                url, f"HTTP {reply.status}", status=reply.status, retryable=False
            )
        return reply.body

    # HTTP

    async def _get(self, service: Service, url: str, headers: dict[str, str]) -> _Reply:
        """GET `url`, following up to MAX_REDIRECTS hops, each paced. 200, 204, 404 and
        410 come back; anything else raises StudyServiceError."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            held = self._pacer.held_for(service)
            if held > 0:
                message = f"the service asked for a pause; {held:.0f} s left"
                raise StudyServiceError(url, message, status=429, retry_after=held)
            await self._pacer.wait_turn(service)
            status, location, body, retry_after = await self._exchange(url, current, headers)
            if status in REDIRECT_STATUSES and location:
                current = self._redirect_target(url, current, location)
                await self._check_hop(url, current)
                continue
            if status in (200, 204) or status in NOT_REGISTERED_STATUSES:
                return _Reply(status, body)
            if retry_after is not None:
                self._pacer.hold(service, retry_after)
            elif status == 429:  # NCBI's 429 names no wait: give it a moment all the same
                self._pacer.hold(service, PAUSE_AFTER_429)
            raise StudyServiceError(
                url,
                " ".join(part for part in (f"HTTP {status}", _phrase(status)) if part),
                status=status,
                retry_after=retry_after,
                retryable=status in RETRYABLE_STATUSES or status >= 500,
            )
        raise StudyServiceError(url, "too many redirects", retryable=False)

    @staticmethod
    def _redirect_target(url: str, current: str, location: str) -> str:
        try:
            target = httpx.URL(current).join(location.strip())
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise StudyServiceError(url, "unusable redirect", retryable=False) from exc
        if target.scheme not in ("http", "https"):
            raise StudyServiceError(url, "redirect to a non-HTTP URL", retryable=False)
        return str(target)

    async def _check_hop(self, url: str, target: str) -> None:
        """Refuse a redirect to a host other than the configured services that resolves to a
        non-public address: doi.org hands content negotiation to whatever the DOI's agency
        registered, and the client follows hops itself, past the feed fetcher's guard."""
        if _origin(target) in self._trusted:
            return
        parsed = httpx.URL(target)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            await check_public_host(parsed.host, port, self._resolver)
        except AddressRefusedError as exc:
            raise StudyServiceError(
                url, f"redirect refused: {exc.message}", retryable=False
            ) from exc
        except FeedUnreachableError:
            # No address here to judge (behind an HTTP proxy, only the proxy may resolve
            # names): the request goes on, and says itself what became of it.
            return

    async def _exchange(
        self, url: str, current: str, headers: dict[str, str]
    ) -> tuple[int, str, bytes, float | None]:
        """One request: (status, Location, body of a 200, Retry-After seconds)."""
        self._in_flight += 1
        try:
            async with asyncio.timeout(self._settings.timeout):
                request = self._client.build_request("GET", current, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    status = response.status_code
                    body = await self._read(url, response) if status == 200 else b""
                    location = response.headers.get("location", "")
                    return status, location, body, _retry_after(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise StudyServiceError(url, f"timed out after {self._settings.timeout:g} s") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError) as exc:
            raise StudyServiceError(url, f"invalid URL: {exc}", retryable=False) from exc
        except httpx.HTTPError as exc:
            raise StudyServiceError(url, f"network error: {type(exc).__name__}") from exc
        except (OSError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise StudyServiceError(url, f"network error: {type(exc).__name__}") from exc
        finally:
            self._in_flight -= 1

    async def _read(self, url: str, response: httpx.Response) -> bytes:
        """The body, refused as soon as it passes the cap (or comes compressed anyway)."""
        cap = self._max_bytes
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            message = f"a compressed answer ({encoding}) though none was asked for"
            raise StudyServiceError(url, message, retryable=False)
        declared = response.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise StudyServiceError(url, f"answer larger than {cap} bytes", retryable=False)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > cap:
                raise StudyServiceError(url, f"answer larger than {cap} bytes", retryable=False)
        return bytes(body)


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the default port spelled out; empty when unusable."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError):
        return ("", "", None)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return (parsed.scheme, parsed.host.lower(), parsed.port or default)


def _doi_path(doi: str) -> str:
    """`doi` as a path under the resolver, escaped; a "." or ".." segment (which a DOI may
    hold, and a URL would resolve away, leaving the resolver's path) spelled %2E."""
    segments = quote(doi, safe=DOI_PATH_SAFE).split("/")
    return "/".join(
        segment.replace(".", "%2E") if segment in (".", "..") else segment for segment in segments
    )


def _from_ncbi(summary: PubMedSummary, pmc: PubMedSummary | None) -> Study:
    study = study_from_pubmed(summary)
    if pmc is not None and not study.pmcid:
        study = replace(study, pmcid=pmc.pmcid)
    return study


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, from a delay or an HTTP-date (read against the server's
    Date), at most MAX_RETRY_AFTER."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(response.headers.get("date", "")) or datetime.now(UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
