"""A loopback stand-in for NCBI's E-utilities: esummary (db=pubmed, db=pmc) and esearch.

Answers as the E-utilities document and do (https://www.ncbi.nlm.nih.gov/books/NBK25499/):

- `/esummary.fcgi?db=pubmed&id=24695721&retmode=json` -> `{"header": {...}, "result":
  {"uids": [...], "<uid>": {...}}}`; an id with no record still gets an entry,
  `{"uid": ..., "error": "cannot get document summary"}` (HTTP 200, as NCBI does); an
  empty or unreadable id list gets `{"esummaryresult": ["Empty id list - nothing todo"]}`;
  an unknown db gets `{"error": "Invalid db name specified: ..."}`. db=pmc uids are the
  digits of the PMCID.
- `/esearch.fcgi?db=pubmed&term=<doi>[doi]&retmode=json` -> `{"esearchresult": {"count",
  "idlist", ...}}`; no match: count "0", an empty idlist and a warninglist.
- Without `retmode=json` the answer is XML, as the real default is.
- More than 3 requests in any second (10 with `api_key`) on the fake's clock: 429 with
  `{"error":"API rate limit exceeded","api-key":"127.0.0.1","count":"4","limit":"3"}`
  (pass `rate_limit=None` to switch it off).

Scripted troubles (tests/fakes/study_services.py) are keyed by the id (PMID, PMC digits)
for esummary and by the DOI for esearch. Every request is logged with its `tool` and
`email` parameters (see `requests`).
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.rate_windows import RollingWindow
from tests.fakes.study_services import (
    LoopbackService,
    Reply,
    SeenRequest,
    seed_pmc,
    seed_pubmed,
)

LIMIT_WITHOUT_KEY = 3
LIMIT_WITH_KEY = 10
XML = "text/xml; charset=UTF-8"


class Ncbi(LoopbackService):
    """esummary.fcgi and esearch.fcgi for the records it knows (seeded with the seed)."""

    name = "ncbi-eutils"

    def __init__(self, *args: Any, rate_limit: bool | None = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._records: dict[str, dict[str, dict[str, Any]]] = {"pubmed": {}, "pmc": {}}
        self._windows = (
            {False: RollingWindow(LIMIT_WITHOUT_KEY, 1.0), True: RollingWindow(LIMIT_WITH_KEY, 1.0)}
            if rate_limit
            else None
        )
        self.refused: list[SeenRequest] = []  # the requests over the rate limit
        self.add("pubmed", seed_pubmed())
        self.add("pmc", seed_pmc())

    def add(self, db: str, record: dict[str, Any]) -> str:
        """Know `record` (an esummary record with its "uid") in `db`; returns the uid."""
        uid = str(record["uid"])
        self._records[db][uid] = record
        return uid

    def remove(self, db: str, uid: str) -> None:
        self._records[db].pop(uid, None)

    def answer(self, request: SeenRequest) -> Reply:
        limited = self._over_limit(request)
        if limited is not None:
            return limited
        if request.path.endswith("/esummary.fcgi"):
            return self._esummary(request)
        if request.path.endswith("/esearch.fcgi"):
            return self._esearch(request)
        return Reply(404, b"<html><body>Not Found</body></html>", "text/html")

    def _over_limit(self, request: SeenRequest) -> Reply | None:
        if self._windows is None:
            return None
        keyed = bool(request.param("api_key"))
        window = self._windows[keyed]
        if window.wait_before_next("ip", request.at) > 0:
            self.refused.append(request)
            limit = LIMIT_WITH_KEY if keyed else LIMIT_WITHOUT_KEY
            body = {"error": "API rate limit exceeded", "api-key": "127.0.0.1",
                    "count": str(limit + 1), "limit": str(limit)}  # fmt: skip
            return Reply(429, json.dumps(body).encode(), headers={"X-RateLimit-Limit": str(limit)})
        window.record("ip", request.at)
        return None

    def _esummary(self, request: SeenRequest) -> Reply:
        db = request.param("db") or "pubmed"
        ids = [uid.strip() for uid in request.param("id").split(",") if uid.strip()]
        for uid in ids:
            reply = self._troubled(uid)
            if reply is not None:
                return reply
        if request.param("retmode") != "json":
            return Reply(200, b'<?xml version="1.0" ?><eSummaryResult/>', XML)
        header = {"type": "esummary", "version": "0.3"}
        if db not in self._records:
            body: dict[str, Any] = {"header": header, "error": f"Invalid db name specified: {db}"}
            return Reply(200, json.dumps(body).encode())
        if not ids or not all(uid.isdigit() for uid in ids):
            body = {"header": header, "esummaryresult": ["Empty id list - nothing todo"]}
            return Reply(200, json.dumps(body).encode())
        result: dict[str, Any] = {"uids": ids}
        for uid in ids:
            record = self._records[db].get(uid)
            if record is None or self.hidden(uid):
                result[uid] = {"uid": uid, "error": "cannot get document summary"}
            else:
                result[uid] = record
        return Reply(200, json.dumps({"header": header, "result": result}).encode())

    def _esearch(self, request: SeenRequest) -> Reply:
        term = request.param("term").strip()
        doi = term[: -len("[doi]")].strip().strip('"') if term.lower().endswith("[doi]") else ""
        reply = self._troubled(doi) if doi else None
        if reply is not None:
            return reply
        if request.param("retmode") != "json":
            return Reply(200, b'<?xml version="1.0" ?><eSearchResult/>', XML)
        db = request.param("db") or "pubmed"
        found = [
            uid
            for uid, record in self._records.get(db, {}).items()
            if doi and not self.hidden(uid) and _has_doi(record, doi)
        ]
        result: dict[str, Any] = {
            "count": str(len(found)),
            "retmax": str(len(found)),
            "retstart": "0",
            "idlist": found,
            "translationset": [],
            "querytranslation": term,
        }
        if not found:
            result["errorlist"] = {"phrasesnotfound": [term], "fieldsnotfound": []}
            result["warninglist"] = {
                "phrasesignored": [],
                "quotedphrasesnotfound": [],
                "outputmessages": ["No items found."],
            }
        body = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}
        return Reply(200, json.dumps(body).encode())

    def _troubled(self, key: str) -> Reply | None:
        trouble = self.trouble(key)
        return self.troubled_reply(trouble) if trouble is not None else None

    def error_body(self, status: int) -> bytes:
        if status == 429:
            body = {"error": "API rate limit exceeded", "api-key": "127.0.0.1",
                    "count": "4", "limit": "3"}  # fmt: skip
            return json.dumps(body).encode()
        return b"<html><body><h1>Internal Server Error</h1></body></html>"


def _has_doi(record: dict[str, Any], doi: str) -> bool:
    ids = record.get("articleids", [])
    return any(
        item.get("idtype") == "doi" and str(item.get("value", "")).lower() == doi.lower()
        for item in ids
    )
