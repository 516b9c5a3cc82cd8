"""A loopback HTTP server for the download tests: it serves in-memory files in several ways of going wrong.

GET /<mode>/<file>, where mode is
    good      the file, honouring `Range: bytes=N-` with a 206 answer (as a real web server does);
    norange   the file, always whole with 200, whatever Range asks (a server that does not resume);
    flaky     the first request for a file sends half of it under the full Content-Length and closes the
              connection; later ones behave like `good` (so a resumed request gets the rest);
    flakyfull the same, but later requests behave like `norange` (so the client must start again);
    drop      always half of the file under the full Content-Length;
    stall     the headers, then nothing for 0.5 s;
    corrupt   other bytes (a valid gzip of something else, so checksums fail);
    missing   404.
Every request is recorded as (path, Range header or None).
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        rng = self.headers.get("Range")
        self.requests.append((self.path, rng))
        _, mode, name = self.path.split("/", 2)
        body = self.files.get(name)
        if body is None or mode == "missing":
            self.send_error(404)
            return
        first = sum(1 for p, _ in self.requests if p == self.path) == 1
        if mode == "corrupt":
            body = gzip.compress(b"not the data you are looking for", mtime=0)
        if mode == "drop" or (mode in ("flaky", "flakyfull") and first):
            return self._send(200, body, cut=len(body) // 2)
        if mode == "stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            time.sleep(0.5)
            return
        if rng and mode in ("good", "flaky") and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(body):
                self.send_error(416)
                return
            return self._send(206, body[start:], content_range=f"bytes {start}-{len(body) - 1}/{len(body)}")
        self._send(200, body)

    def _send(self, code: int, body: bytes, cut: int | None = None, content_range: str | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if content_range:
            self.send_header("Content-Range", content_range)
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[tuple[str, type[Handler]]]:
    """A server on 127.0.0.1 in a thread; yields (base URL, handler class with .files and .requests)."""
    handler = type("H", (Handler,), {"files": files, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
