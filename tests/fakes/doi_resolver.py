"""A loopback stand-in for doi.org content negotiation with Crossref behind it.

As documented at https://citation.crosscite.org/docs.html and by Crossref:

- `GET /<doi>` with `Accept: application/vnd.citationstyles.csl+json` (or the older
  `application/citeproc+json`) is redirected (302) to the registration agency's
  metadata service, here `/works/<doi>/transform` on the same server, which answers 200
  with CSL-JSON (`Content-Type: application/vnd.citationstyles.csl+json`);
- a DOI that is not registered: 404 from doi.org itself;
- an Accept naming only types the agency cannot give: 406 Not Acceptable;
- no Accept, `*/*` or `text/html`: 302 to the landing page (the record's URL), which is
  what a browser gets.

DOIs are case-insensitive. Scripted troubles (tests/fakes/study_services.py) are keyed
by DOI and hit the answering hop (the metadata service, as Crossref's 429s do).

    with DoiResolver() as resolver:           # seeded with the seed study
        resolver.rate_limited(SEED_DOI, retry_after="3")
        settings.doi_resolver = resolver.url()
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.study_services import (
    SEED_DOI,
    LoopbackService,
    Reply,
    SeenRequest,
    seed_csl,
)

CSL_TYPE = "application/vnd.citationstyles.csl+json"
CSL_TYPES = (CSL_TYPE, "application/citeproc+json")
OTHER_TYPES = (  # what Crossref also negotiates; this fake does not render them
    "application/rdf+xml", "text/turtle", "text/x-bibliography", "application/x-bibtex",
    "application/x-research-info-systems", "application/vnd.crossref.unixref+xml",
    "application/vnd.crossref.unixsd+xml",
)  # fmt: skip
TRANSFORM = "/transform"
WORKS = "/works/"

NOT_FOUND_PAGE = (
    b"<!DOCTYPE html><html><head><title>Error: DOI Not Found</title></head><body>"
    b"<h1>DOI Not Found</h1></body></html>"
)


class DoiResolver(LoopbackService):
    """doi.org and Crossref's content negotiation on one loopback server."""

    name = "doi-resolver"

    def __init__(self, *args: Any, redirect: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redirect = redirect  # False: doi.org answers the CSL-JSON itself
        self._records: dict[str, dict[str, Any]] = {}
        self.register(seed_csl())

    def register(self, csl: dict[str, Any]) -> str:
        """Know this CSL-JSON record under its DOI; returns the DOI."""
        doi = str(csl["DOI"])
        self._records[doi.lower()] = csl
        return doi

    def record(self, doi: str = SEED_DOI) -> dict[str, Any]:
        return self._records[doi.lower()]

    def hits(self, doi: str) -> int:
        """Requests that named `doi` (either hop)."""
        return sum(1 for seen in self.requests if _doi_of(seen.path) == doi.lower())

    def answer(self, request: SeenRequest) -> Reply:
        path = request.path
        if path.startswith(WORKS) and path.endswith(TRANSFORM):
            return self._metadata(path[len(WORKS) : -len(TRANSFORM)], request)
        doi = path.lstrip("/")
        if doi.lower() not in self._records or self.hidden(doi):
            return Reply(404, NOT_FOUND_PAGE, "text/html;charset=utf-8")
        accept = _accepted(request.headers.get("accept", ""))
        if not accept or "text/html" in accept or "*/*" in accept:
            landing = str(self._records[doi.lower()].get("URL", ""))
            return Reply(302, b"", "text/html", {"Location": landing})
        if self.redirect:
            location = self.url(f"{WORKS}{doi}{TRANSFORM}")
            return Reply(302, b"", "text/html", {"Location": location, "Vary": "Accept"})
        return self._metadata(doi, request)

    def _metadata(self, doi: str, request: SeenRequest) -> Reply:
        trouble = self.trouble(doi)
        if trouble is not None:
            reply = self.troubled_reply(trouble)
            if reply is not None:
                return reply
        record = self._records.get(doi.lower())
        if record is None or self.hidden(doi):
            return Reply(404, b"Resource not found.", "text/plain")
        accept = _accepted(request.headers.get("accept", ""))
        if not any(kind in accept for kind in CSL_TYPES):
            return Reply(406, b"Not Acceptable", "text/plain")
        return Reply(200, json.dumps(record).encode(), CSL_TYPE)

    def error_body(self, status: int) -> bytes:
        if status == 429:
            return b"Too Many Requests"
        return f"{status} error".encode()


def _accepted(header: str) -> list[str]:
    """The media types an Accept header names, without parameters, lower case."""
    return [part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()]


def _doi_of(path: str) -> str:
    if path.startswith(WORKS) and path.endswith(TRANSFORM):
        path = path[len(WORKS) : -len(TRANSFORM)]
    return path.lstrip("/").lower()
