"""The lifecycle the loopback HTTP fakes share: serve in a background thread, stop at once.

A subclass sets `_httpd` (a ThreadingHTTPServer), `_stopping` (set on stop, so scripted
delays waiting on it give up) and `_thread = None` in its `__init__`.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Start, stop and `with` for a threaded HTTP server on a loopback address."""

    _httpd: ThreadingHTTPServer
    _stopping: threading.Event
    _thread: threading.Thread | None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delays and drips in progress give up at once."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
