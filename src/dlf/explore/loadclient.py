"""A light client that speaks the browser's protocol to `dlf explore` (gradio's queue), for load tests and tests.

A browser tab is a session (a random session hash). To fire an event it posts the values of the event's inputs
to /gradio_api/queue/join and reads the answers from the event stream /gradio_api/queue/data: a message per
frame ("process_generating") and a last one ("process_completed"). The pages' events are not public API
(they carry per-session state), so this client finds them as the browser does: by the widget that triggers
them (its elem_id) in the app's /config, and sends every other input its default value from there.

    app = App("http://127.0.0.1:7860/")
    s = Session(app)
    for kind, frame in s.events("universality-train", "click", {"universality-width": 64}): ...

The standard library only, no JSON parsing of frames unless asked, so that many clients take little CPU.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

STREAM = re.compile(rb"/dlf/stream/[A-Za-z0-9_-]+")
"""The path of a training stream, in the first answer to a press of Train (dlf.explore.stream)."""
TOKEN = re.compile(rb'data-token=\\?"([A-Za-z0-9_-]+)')
"""The session's token for the Neuron page's drags, in its figure (dlf.explore.neuron), escaped or not."""


class App:
    """The events and default values of a running explorer, read from its /config."""

    def __init__(self, url: str):
        self.url = url if url.endswith("/") else url + "/"
        with urllib.request.urlopen(self.url + "config", timeout=60) as r:
            cfg = json.loads(r.read())
        self.comps = {c["id"]: c for c in cfg["components"]}
        self.by_elem = {c.get("props", {}).get("elem_id"): c["id"] for c in cfg["components"]}
        self.deps = cfg["dependencies"]

    def event(self, elem_id: str, trigger: str) -> tuple[int, list[int], bool]:
        """(fn_index, input ids, queued) of the event that `trigger` ('click', 'input' ...) on elem_id fires."""
        cid = self.by_elem[elem_id]
        for index, dep in enumerate(self.deps):
            if [cid, trigger] in [list(t) for t in dep["targets"]]:
                return dep.get("id", index), dep["inputs"], dep.get("queue") is not False
        raise KeyError(f"no {trigger} event on #{elem_id}")

    def load_event(self) -> tuple[int, list[int]]:
        """(fn_index, input ids) of the event a page load fires (the app's restore: it draws the first page)."""
        for index, dep in enumerate(self.deps):
            if any(list(t)[1] == "load" for t in dep["targets"]):
                return dep.get("id", index), dep["inputs"]
        raise KeyError("no load event")

    def inputs(self, ids: list[int], values: dict[str, object]) -> list:
        """The input values: `values` by elem_id, None for a State, else the widget's default."""
        out = []
        for i in ids:
            comp = self.comps[i]
            elem = comp.get("props", {}).get("elem_id")
            out.append(values[elem] if elem in values else None if comp["type"] == "state"
                       else comp.get("props", {}).get("value"))
        return out


class Session:
    """One browser tab: its own session hash; fire events and read their answers."""

    def __init__(self, app: App):
        self.app, self.hash = app, uuid.uuid4().hex[:12]
        self._conn: http.client.HTTPConnection | None = None
        parts = urlsplit(app.url)
        self.host, self.port = parts.hostname, parts.port

    def load(self) -> bytes:
        """What a browser's page load does: fire the load event and return its answer (a raw message line)."""
        fn, ids = self.app.load_event()
        body = {"data": self.app.inputs(ids, {}), "fn_index": fn, "session_hash": self.hash, "event_data": None,
                "trigger_id": None}
        event = self._post("gradio_api/queue/join", body).get("event_id", "").encode()
        for kind, line in self._read(event):
            if kind != "frame":
                return line
        return b""

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a path of the server on this tab's kept-alive connection, as a browser's fetch does: (status, body)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            self._conn.request("GET", path)
            r = self._conn.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed the kept-alive connection: once more
            self._conn.close()
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._conn.request("GET", path)
            r = self._conn.getresponse()
        return r.status, r.read()

    def stream(self, path: str) -> Iterator[tuple[str, bytes]]:
        """Follow a Server-Sent Events stream (dlf.explore.stream) as the page's EventSource does: yield (event,
        data) for each message ('message' for plain data) until the server ends it; ('error', body) on a refusal."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request("GET", path, headers={"Accept": "text/event-stream"})
            r = conn.getresponse()
            if r.status != 200:
                yield "error", r.read()
                return
            event, data = b"message", []
            while line := r.readline():
                line = line.rstrip(b"\r\n")
                if not line:
                    if data:
                        yield event.decode(), b"\n".join(data)
                    event, data = b"message", []
                elif line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
        finally:
            conn.close()

    def _post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.app.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def fire(self, elem_id: str, trigger: str, values: dict[str, object] | None = None) -> str:
        """Send an event without waiting for its answer (Stop, say); its event id ('' if not queued)."""
        fn, ids, queued = self.app.event(elem_id, trigger)
        body = {"data": self.app.inputs(ids, values or {}), "fn_index": fn, "session_hash": self.hash,
                "event_data": None, "trigger_id": None}
        if not queued:  # answered at once, as the browser posts it
            self._post("gradio_api/run/predict", body)
            return ""
        return self._post("gradio_api/queue/join", body).get("event_id", "")

    def call(self, elem_id: str, trigger: str, values: dict[str, object] | None = None) -> dict:
        """Run an event that is not queued (queue=False) and return its answer."""
        fn, ids, _ = self.app.event(elem_id, trigger)
        return self._post("gradio_api/run/predict", {
            "data": self.app.inputs(ids, values or {}), "fn_index": fn, "session_hash": self.hash,
            "event_data": None, "trigger_id": None})

    def events(self, elem_id: str, trigger: str, values: dict[str, object] | None = None
               ) -> Iterator[tuple[str, bytes]]:
        """Fire an event and yield ('frame', raw line) for each frame, then ('done' or 'error', raw line).

        A frame after the first is sent as a change to the one before (gradio's diff: [["replace", [], value]]),
        so read values such as data-step="..." from the raw line. A Universality training frame is mostly a
        patch that the page's script applies (dlf.explore.unifig): its step is in its "data" ("step":"...").
        A press of Train on a server that streams answers first with {"stream": path} (`STREAM` finds it in
        the line): follow that path with `stream`, as the page does; gradio's last frame comes when it ends.
        """
        yield from self._read(self.fire(elem_id, trigger, values).encode())

    def _read(self, event: bytes) -> Iterator[tuple[str, bytes]]:
        stream = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            stream.request("GET", f"/gradio_api/queue/data?session_hash={self.hash}")
            response = stream.getresponse()
            while line := response.readline():
                head = line[:120]
                if event not in head:  # another event of this session (a Stop sent meanwhile)
                    continue
                if b'"process_generating"' in head:
                    yield "frame", line
                elif b'"process_completed"' in head:
                    ok = json.loads(line[5:]).get("success", False)
                    yield ("done" if ok else "error"), line
                    return
                elif b'"queue_full"' in head or b'"unexpected_error"' in head:
                    yield "error", line
                    return
        finally:
            stream.close()


def output(line: bytes) -> list:
    """The output values in a message line (for a frame after the first, gradio's diff of them)."""
    return json.loads(line[5:]).get("output", {}).get("data", [])


class ServerGone(RuntimeError):
    """The explorer process exited, or never answered, before it was ready."""


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until the explorer started as `proc` answers at `url`; raise ServerGone if it exits or times out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ServerGone(f"the server exited with status {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise ServerGone(f"the server did not answer at {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop an explorer started as `proc`: SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
