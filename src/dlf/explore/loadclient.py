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
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit


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
        parts = urlsplit(app.url)
        self.host, self.port = parts.hostname, parts.port

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
        """
        stream = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            event = self.fire(elem_id, trigger, values).encode()
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
