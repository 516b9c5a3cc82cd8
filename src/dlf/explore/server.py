"""Start the explorer: `dlf explore [--host 127.0.0.1] [--port 7860] [--open]`.

It listens on 127.0.0.1 (this machine only) unless --host says otherwise. Training runs in worker processes
(dlf.explore.workers, `Limits.workers`, default 2), each job in turn for a short slice, so that a classroom of
sessions shares the cores fairly; the web process only passes the frames on and computes the quick redraws with
one torch thread. See dlf.explore.session for the bounds on each session's work.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys

from dlf.errors import DlfError
from dlf.explore.session import Limits

INSTALL_HINT = "pip install 'dlf[explore]' (or: pip install gradio)"


def _require_gradio() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise DlfError(f"dlf explore needs gradio, which is not installed; install it with {INSTALL_HINT}") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on `host` right now (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def warm_up() -> None:
    """Import what the first Train press would otherwise import (torch's optimisers take seconds, once)."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def _check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the port is taken or the address is not this machine's."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
            s.bind((host, port))
    except OSError as exc:
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise DlfError(f"cannot serve on {host}:{port} ({why}); choose another --port or --host") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def routes(app, limits: Limits) -> None:
    """The one place where the explorer's own HTTP routes (beside gradio's) are attached to the running FastAPI
    app; called once, right after the launch. Routes added here come after gradio's own, so use paths of their own
    (under /dlf/)."""
    from dlf.explore import stream

    stream.attach(app, limits)  # training frames and slider drags, without gradio's per-event cost


def serve(host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False, *, limits: Limits | None = None,
          block: bool = True, quiet: bool = False, torch_threads: int | None = 1,
          runs: str | os.PathLike | None = None):
    """Build and launch the app; with block=False return the running gr.Blocks at once (close it with .close())."""
    if not 0 < port < 65536:
        raise DlfError(f"--port must lie in 1..65535 (got {port})")
    _check_port(host, port)
    _require_gradio()
    if not _is_loopback(host):
        print(f"dlf: warning: --host {host} lets other machines on the network use the explorer", file=sys.stderr)
    import torch

    from dlf.explore import workers
    from dlf.explore.app import CSS, build_app
    from dlf.explore.trained.pages import CSS as RUN_CSS

    if torch_threads:
        torch.set_num_threads(torch_threads)
    warm_up()
    limits = limits or Limits()
    demo = build_app(limits, runs)
    demo.queue(default_concurrency_limit=4, max_size=limits.max_queue)  # one queue for every page of the app
    middleware = []
    if runs is not None:  # old links to a run page of the whole app go to that page alone
        from starlette.middleware import Middleware

        from dlf.explore.trained.standalone import RunLinks

        middleware.append(Middleware(RunLinks))
    try:
        demo.launch(server_name=host, server_port=port, inbrowser=open_browser, prevent_thread_lock=True,
                    quiet=quiet, show_error=True, state_session_capacity=limits.max_sessions, footer_links=[],
                    run_history=False, enable_monitoring=False, css=CSS + RUN_CSS, mcp_server=False,
                    app_kwargs={"middleware": middleware})
    except OSError as exc:  # taken between the check and the launch
        raise DlfError(f"cannot serve on {host}:{port} ({str(exc).splitlines()[0]}); choose another --port") from None
    routes(demo.app, limits)
    workers.start(limits.workers)  # training runs in these processes, shared fairly (dlf.explore.workers)
    if block:
        demo.block_thread()
    return demo
