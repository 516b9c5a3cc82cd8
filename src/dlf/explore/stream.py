"""Routes of our own beside gradio's, for what changes many times a second: training frames, and slider drags.

gradio handles each event for about 3.5 ms of the web process's CPU, so a classroom of 20 sessions training at
10 figure updates a second would spend most of a core on that alone. Here a press of Train is still a gradio
event, but its frames do not go through gradio: the event answers with a link to a stream of its own and ends
(a thread drives the job), and the page's script (patch.PATCH_JS) follows the stream by Server-Sent Events;
when it ends, the script asks gradio for the last figure. A page that trains holds two connections (gradio's
heartbeat and the stream), so a browser's six per server leave room for Stop with two tabs training.

    token, channel = STREAMS.open(session_hash)   # in the gradio event: a stream for this press of Train
    channel.put(frame, status)                    # each frame the training worker draws (newest kept)
    channel.close()                               # the job ended: the stream says "end"

    GET /dlf/stream/<token>     the frames, as Server-Sent Events ("data:" a figure or a patch, "event: note" the
                                status line, "event: end" when the job has ended)
    GET /dlf/neuron/<token>?w1=..&w2=..&b=..&activation=..&x1=..&x2=..
                                the Neuron page's figure for a slider drag, as compact data the page draws

A token is a random 128-bit name that the server hands out only inside a gradio event, to that event's session
(dlf.explore.universality's Train, and the Neuron page's draw). So no one starts, watches or steers a job
without a gradio session of their own, and the routes keep gradio's bounds: at most `Limits.max_training`
streams at once (one per press of Train running), one reader per stream, the newest frames only (a slow reader
skips frames instead of piling them up), a press ended when its reader has been gone for `ABANDONED_S`; one
drag answered at a time per session, tokens kept for at most `Limits.max_sessions` sessions, every value
checked and clamped as a link's is (dlf.explore.share).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator

from dlf.explore.session import KEEP, Limits

ABANDONED_S = 10.0
"""A press of Train whose stream has had no reader for this long (never opened, or closed) ends."""
PREFIX = "/dlf"


class Full(RuntimeError):
    """More streams than `Limits.max_training` at once."""


class Channel:
    """The frames of one press of Train on their way to its one reader: the newest patch after the newest figure.

    A patch changes the whole figure sent before it, so a new whole figure makes every earlier frame useless,
    and a new patch the patch before it. The producer (a thread) never waits for the reader (the event loop).
    """

    def __init__(self, session: str):
        self.session = session
        self.lock = threading.Lock()
        self.frames: list[str] = []  # a whole figure and/or the newest patch, in order
        self.note: str | None = None  # the newest status line not yet sent
        self.closed = False
        self.reading = False
        self.left = time.monotonic()  # when the reader was last gone (or the channel opened)
        self.sent = 0
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def put(self, frame: str | None, note: str | None = None) -> None:
        """A frame (an SVG, or a JSON patch for the figure before it; None: none) and a status line (None: keep)."""
        with self.lock:
            if frame is not None:
                if not frame.startswith("{"):  # a whole figure: everything before it is stale
                    self.frames = [frame]
                elif self.frames and self.frames[-1].startswith("{"):
                    self.frames[-1] = frame
                else:
                    self.frames.append(frame)
            if note is not None:
                self.note = note
            self._notify()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._notify()

    def abandoned(self) -> bool:
        """No reader for ABANDONED_S: the browser never followed the stream, or went away."""
        return not self.reading and time.monotonic() - self.left > ABANDONED_S

    def _notify(self) -> None:
        if self._wake is not None:
            loop, event = self._wake
            loop.call_soon_threadsafe(event.set)

    def _take(self) -> tuple[list[str], str | None, bool]:
        with self.lock:
            frames, note, self.frames, self.note = self.frames, self.note, [], None
            return frames, note, self.closed

    async def messages(self) -> AsyncIterator[str]:
        """The Server-Sent Events for the one reader, until the job ends or the reader goes."""
        event = asyncio.Event()
        with self.lock:
            self._wake = asyncio.get_running_loop(), event
        try:
            yield "retry: 1000\n\n"
            while True:
                frames, note, closed = self._take()
                for frame in frames:
                    self.sent += 1
                    yield "".join(f"data: {line}\n" for line in frame.split("\n")) + "\n"
                if note is not None:
                    yield "event: note\n" + "".join(f"data: {line}\n" for line in note.split("\n")) + "\n"
                if closed:
                    yield "event: end\ndata: end\n\n"
                    return
                await event.wait()
                event.clear()
        finally:
            with self.lock:
                self._wake, self.reading, self.left = None, False, time.monotonic()


class Streams:
    """The open channels by token, at most `capacity` at once."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.lock = threading.Lock()
        self.channels: dict[str, Channel] = {}

    def open(self, session: str) -> tuple[str, Channel]:
        """A new channel for a press of Train in gradio session `session`; Full when too many are open."""
        with self.lock:
            if len(self.channels) >= self.capacity:
                raise Full(f"{self.capacity} sessions are training already; press Train again in a moment")
            token = secrets.token_urlsafe(16)
            self.channels[token] = channel = Channel(session)
            return token, channel

    def drop(self, token: str) -> None:
        with self.lock:
            self.channels.pop(token, None)

    def reader(self, token: str) -> Channel | None:
        """The channel for its one reader: None when the token is unknown, or the channel already has a reader."""
        with self.lock:
            channel = self.channels.get(token)
            if channel is None:
                return None
            with channel.lock:
                if channel.reading:
                    return None
                channel.reading = True
            return channel


class Sessions:
    """One token per gradio session that has drawn the Neuron page, for its drags; the newest `capacity` kept."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.lock = threading.Lock()
        self.tokens: OrderedDict[str, str] = OrderedDict()  # session hash -> token
        self.busy: dict[str, threading.Lock] = {}  # token -> held while one of its drags is answered

    def token(self, session: str) -> str:
        with self.lock:
            token = self.tokens.get(session)
            if token is None:
                token = self.tokens[session] = secrets.token_urlsafe(16)
                self.busy[token] = threading.Lock()
                while len(self.tokens) > self.capacity:
                    _, old = self.tokens.popitem(last=False)
                    self.busy.pop(old, None)
            self.tokens.move_to_end(session)
            return token

    def lock_of(self, token: str) -> threading.Lock | None:
        with self.lock:
            return self.busy.get(token)


STREAMS = Streams(Limits().max_training)
SESSIONS = Sessions(Limits().max_sessions)


def configure(limits: Limits) -> None:
    """Bounds for the server's limits (before any stream or token is handed out)."""
    global STREAMS, SESSIONS
    STREAMS, SESSIONS = Streams(limits.max_training), Sessions(limits.max_sessions)


_ATTACHED = False


def attached() -> bool:
    """Whether the routes are served (by `attach`): else the pages send every frame through gradio."""
    return _ATTACHED


def link(token: str) -> str:
    """The value that tells the page's script (patch.PATCH_JS) to follow a training stream."""
    return json.dumps({"stream": f"{PREFIX}/stream/{token}"})


def streamed(state, run: Callable[[Callable[[], bool]], Iterator[tuple[tuple, bool]]], session: str,
             note: str = "training: the step and the rate under the figure") -> Iterator[tuple]:
    """A press of Train whose frames go by its own stream: the gradio event answers with the stream's link and ends.

    So a training page holds two connections (gradio's heartbeat and the stream) and not three: a browser opens
    at most six to one server, and two tabs training with three each left none for a Stop. A thread of ours
    drives `run(abandoned)` (dlf.explore.session.pool_frames: (frame, last) pairs); its last frame and status go
    by the stream and stay in `state.final`, which the page fetches through gradio when the stream ends (its
    hidden "finish" button). A press that found every stream taken answers (KEEP, the reason).
    """
    try:
        token, channel = STREAMS.open(session)
    except Full as exc:
        yield KEEP, f"⚠ {exc}"
        return

    state.final, version = None, state.version

    def drive() -> None:
        try:
            for (fig, status), last in run(channel.abandoned):
                if last:
                    with state.lock:  # a Reset or a Step meanwhile (under the lock: it clears `final`) wins
                        if state.version != version:
                            break
                        state.final = fig, status
                channel.put(fig, status)
        finally:
            channel.close()
            STREAMS.drop(token)

    threading.Thread(target=drive, name=f"dlf-train-{token[:6]}", daemon=True).start()
    yield link(token), note


def finish(state) -> tuple:
    """The figure and status where the last streamed press of Train ended (the page asks when its stream ends)."""
    return state.final if state.final is not None else (KEEP, KEEP)


def session_hash() -> str | None:
    """The gradio session of the event being handled (None outside a gradio event)."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) if request is not None else None


def attach(app, limits: Limits) -> None:
    """Add the routes to gradio's running FastAPI app (dlf.explore.server calls this once, after launch)."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse

    from dlf.explore import neuron

    global _ATTACHED
    configure(limits)

    async def stream_route(request: Request) -> Response:
        channel = STREAMS.reader(request.path_params["token"])
        if channel is None:
            return PlainTextResponse("no such training stream, or it is read already: press Train", 404)
        return StreamingResponse(channel.messages(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def drag_route(request: Request) -> Response:  # a few milliseconds of numpy: in a worker thread
        token = request.path_params["token"]
        lock = SESSIONS.lock_of(token)
        if lock is None:
            return PlainTextResponse("unknown session: reload the page", 404)
        if not lock.acquire(blocking=False):
            return PlainTextResponse("one drag at a time per session", 429)
        try:
            body = neuron.compact(dict(request.query_params), token)
        finally:
            lock.release()
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    app.add_route(f"{PREFIX}/stream/{{token}}", stream_route, methods=["GET"], include_in_schema=False)
    app.add_route(f"{PREFIX}/neuron/{{token}}", drag_route, methods=["GET"], include_in_schema=False)
    _ATTACHED = True
