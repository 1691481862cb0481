"""What the loopback fakes of the study services share: the seed study, the threaded
server, the request log and the scripted troubles (429, slow, malformed, late).

tests/fakes/doi_resolver.py (doi.org content negotiation, Crossref's CSL-JSON) and
tests/fakes/ncbi.py (E-utilities esearch/esummary JSON) build on `LoopbackService`. Both
run in a background thread, as tests/fakes/feed_server.py does, so they serve async
tests and a separate `releasebot run` process alike; `clock` stamps each request (pass a
tests/fakes/virtual_time.py VirtualClock to check pacing without sleeping).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

# The study behind the seed release (../shared/design/citations.md).
SEED_DOI = "10.1523/JNEUROSCI.4977-13.2014"
SEED_PMID = "24695721"
SEED_PMCID = "PMC3972727"
SEED_TITLE_CROSSREF = (
    "Nipping Cue Reactivity in the Bud: Baclofen Prevents Limbic Activation Elicited by "
    "Subliminal Drug Cues"
)
SEED_TITLE_PUBMED = (
    "Nipping cue reactivity in the bud: baclofen prevents limbic activation elicited by "
    "subliminal drug cues."
)
SEED_AUTHORS = (
    ("Kimberly A.", "Young"),
    ("Teresa R.", "Franklin"),
    ("David C. S.", "Roberts"),
    ("Kanchana", "Jagannathan"),
    ("Jesse J.", "Suh"),
    ("Reagan R.", "Wetherill"),
    ("Ze", "Wang"),
    ("Kyle M.", "Kampman"),
    ("Charles P.", "O'Brien"),
    ("Anna Rose", "Childress"),
)


def seed_csl() -> dict[str, Any]:
    """Crossref's CSL-JSON for the seed DOI, trimmed to what content negotiation sends
    that a citation uses (plus a few fields it ignores, as the real answer has)."""
    return {
        "indexed": {"date-parts": [[2024, 3, 1]], "timestamp": 1709280000000},
        "reference-count": 47,
        "publisher": "Society for Neuroscience",
        "issue": "14",
        "content-domain": {"domain": [], "crossmark-restriction": False},
        "short-container-title": ["J. Neurosci."],
        "published-print": {"date-parts": [[2014, 4, 2]]},
        "DOI": SEED_DOI,
        "type": "journal-article",
        "created": {"date-parts": [[2014, 4, 2]], "timestamp": 1396450000000},
        "page": "5038-5043",
        "source": "Crossref",
        "is-referenced-by-count": 71,
        "title": SEED_TITLE_CROSSREF,
        "prefix": "10.1523",
        "volume": "34",
        "author": [
            {
                "given": given,
                "family": family,
                "sequence": "first" if position == 0 else "additional",
                "affiliation": [],
            }
            for position, (given, family) in enumerate(SEED_AUTHORS)
        ],
        "member": "1413",
        "container-title": "The Journal of Neuroscience",
        "original-title": [],
        "language": "en",
        "deposited": {"date-parts": [[2021, 4, 18]], "timestamp": 1618700000000},
        "score": 1,
        "subtitle": [],
        "short-title": [],
        "issued": {"date-parts": [[2014, 4, 2]]},
        "references-count": 47,
        "journal-issue": {"issue": "14", "published-print": {"date-parts": [[2014, 4, 2]]}},
        "alternative-id": [SEED_DOI],
        "URL": f"http://dx.doi.org/{SEED_DOI}",
        "relation": {},
        "ISSN": ["0270-6474", "1529-2401"],
        "container-title-short": "J. Neurosci.",
        "published": {"date-parts": [[2014, 4, 2]]},
    }


def seed_pubmed() -> dict[str, Any]:
    """PubMed's esummary record (db=pubmed, retmode=json) for the seed PMID."""
    return {
        "uid": SEED_PMID,
        "pubdate": "2014 Apr 2",
        "epubdate": "",
        "source": "J Neurosci",
        "authors": [
            {"name": f"{family} {''.join(p[0] for p in given.replace('.', ' ').split())}",
             "authtype": "Author", "clusterid": ""}
            for given, family in SEED_AUTHORS
        ],
        "lastauthor": "Childress AR",
        "title": SEED_TITLE_PUBMED,
        "sorttitle": "nipping cue reactivity in the bud baclofen prevents limbic activation"
        " elicited by subliminal drug cues",
        "volume": "34",
        "issue": "14",
        "pages": "5038-43",
        "lang": ["eng"],
        "nlmuniqueid": "8102140",
        "issn": "0270-6474",
        "essn": "1529-2401",
        "pubtype": ["Journal Article", "Research Support, N.I.H., Extramural"],
        "recordstatus": "PubMed - indexed for MEDLINE",
        "pubstatus": "4",
        "articleids": [
            {"idtype": "pubmed", "idtypen": 1, "value": SEED_PMID},
            {"idtype": "pii", "idtypen": 4, "value": "34/14/5038"},
            {"idtype": "doi", "idtypen": 3, "value": SEED_DOI},
            {"idtype": "pmc", "idtypen": 8, "value": SEED_PMCID},
            {"idtype": "pmcid", "idtypen": 5, "value": f"pmc-id: {SEED_PMCID};"},
            {"idtype": "rid", "idtypen": 8, "value": SEED_PMID},
            {"idtype": "eid", "idtypen": 8, "value": SEED_PMID},
        ],
        "history": [{"pubstatus": "pubmed", "date": "2014/04/04 06:00"}],
        "references": [],
        "attributes": ["Has Abstract"],
        "pmcrefcount": 40,
        "fulljournalname": "The Journal of neuroscience : the official journal of the"
        " Society for Neuroscience",
        "elocationid": f"doi: {SEED_DOI}",
        "doctype": "citation",
        "booktitle": "",
        "medium": "",
        "sortpubdate": "2014/04/02 00:00",
        "sortfirstauthor": "Young KA",
        "vernaculartitle": "",
    }  # fmt: skip


def seed_pmc() -> dict[str, Any]:
    """PMC's esummary record (db=pmc, retmode=json) for the seed PMCID: the journal's
    title case, and articleids with idtype "pmid"/"doi"/"pmcid"."""
    return {
        "uid": SEED_PMCID.removeprefix("PMC"),
        "pubdate": "2014 Apr 2",
        "epubdate": "2014 Apr 2",
        "printpubdate": "2014 Apr 2",
        "source": "J Neurosci",
        "authors": seed_pubmed()["authors"],
        "title": SEED_TITLE_CROSSREF,
        "volume": "34",
        "issue": "14",
        "pages": "5038-5043",
        "articleids": [
            {"idtype": "pmid", "value": SEED_PMID},
            {"idtype": "doi", "value": SEED_DOI},
            {"idtype": "pmcid", "value": SEED_PMCID},
        ],
        "fulljournalname": "The Journal of Neuroscience",
        "sortdate": "2014/04/02 00:00",
    }


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as a fake received it."""

    path: str  # percent-decoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    at: float  # the fake's clock when it arrived

    def param(self, name: str) -> str:
        values = self.query.get(name)
        return values[0] if values else ""


@dataclass
class Reply:
    """What to answer one request."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Trouble:
    """A scripted misbehaviour for one DOI or id, for its next `times` answers (None: until
    cleared). It takes the place of the normal answer."""

    status: int = 0  # answer this status instead (429, 500...)
    retry_after: str | None = None
    delay: float = 0.0  # real seconds before answering (client timeouts)
    body: bytes | None = None  # answer 200 with this body (malformed)
    times: int | None = None


class LoopbackService(LoopbackServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 answering through `answer(request)`."""

    name = "service"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._seen: list[SeenRequest] = []
        self._troubles: dict[str, Trouble] = {}
        self._hidden: set[str] = set()
        self._in_flight = 0
        self._httpd = _Server((host, port), _Handler)
        self._httpd.service = self
        self._thread: threading.Thread | None = None

    # lifecycle

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` here; `url()` is the base a config points at."""
        return f"http://127.0.0.1:{self.port}{path}"

    # scripting: `key` is a DOI (any case) or an id, as each fake documents

    def rate_limited(self, key: str, *, retry_after: str | None = "2", times: int = 1) -> None:
        """The next `times` answers about `key` are 429 Too Many Requests."""
        self._script(key, Trouble(status=429, retry_after=retry_after, times=times))

    def failing(self, key: str, *, status: int = 500, times: int | None = 1) -> None:
        """The next `times` answers about `key` are this error status."""
        self._script(key, Trouble(status=status, times=times))

    def slow(self, key: str, seconds: float, *, times: int | None = None) -> None:
        """Answers about `key` come `seconds` late (real time)."""
        self._script(key, Trouble(delay=seconds, times=times))

    def malformed(
        self, key: str, body: bytes = b'{"title": "cut off', *, times: int | None = None
    ) -> None:
        """Answers about `key` are 200 with `body`, which is not what the service sends."""
        self._script(key, Trouble(body=body, times=times))

    def clear(self, key: str) -> None:
        """`key` is answered normally again."""
        with self._lock:
            self._troubles.pop(key.lower(), None)

    def later(self, key: str) -> None:
        """`key` is unknown (as if not registered yet) until `publish(key)`."""
        with self._lock:
            self._hidden.add(key.lower())

    def publish(self, key: str) -> None:
        """A `later` key becomes known."""
        with self._lock:
            self._hidden.discard(key.lower())

    # what was seen

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request so far, in order of arrival."""
        with self._lock:
            return list(self._seen)

    @property
    def in_flight(self) -> int:
        """Requests being answered now."""
        with self._lock:
            return self._in_flight

    def times(self) -> list[float]:
        """When each request arrived, on the fake's clock."""
        return [seen.at for seen in self.requests]

    # for subclasses

    def answer(self, request: SeenRequest) -> Reply:
        raise NotImplementedError

    def hidden(self, key: str) -> bool:
        with self._lock:
            return key.lower() in self._hidden

    def trouble(self, key: str) -> Trouble | None:
        """The trouble scripted for `key`, counting one answer against its `times`."""
        with self._lock:
            trouble = self._troubles.get(key.lower())
            if trouble is None:
                return None
            if trouble.times is not None:
                trouble.times -= 1
                if trouble.times <= 0:
                    del self._troubles[key.lower()]
            return trouble

    def troubled_reply(self, trouble: Trouble) -> Reply | None:
        """The reply a trouble gives (after its delay), None when it only delays."""
        if trouble.delay and self._stopping.wait(trouble.delay):
            return Reply(503, b"stopping", "text/plain")
        if trouble.status:
            headers = {"Retry-After": trouble.retry_after} if trouble.retry_after else {}
            return Reply(trouble.status, self.error_body(trouble.status), headers=headers)
        if trouble.body is not None:
            return Reply(200, trouble.body)
        return None

    def error_body(self, status: int) -> bytes:
        return f"{status}".encode()

    def _script(self, key: str, trouble: Trouble) -> None:
        with self._lock:
            self._troubles[key.lower()] = trouble

    def _arrive(self, request: SeenRequest) -> None:
        with self._lock:
            self._seen.append(request)
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: LoopbackService

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10

    def do_GET(self) -> None:
        service = self.server.service
        parts = urlsplit(self.path)
        request = SeenRequest(
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            at=service.clock(),
        )
        service._arrive(request)
        try:
            reply = service.answer(request)
            self.send_response_only(reply.status)
            headers = {
                "Date": formatdate(usegmt=True),
                "Server": service.name,
                "Content-Type": reply.content_type,
                "Content-Length": str(len(reply.body)),
                **reply.headers,
            }
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            service._leave()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: pytest output is for failures."""
