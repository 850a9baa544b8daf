"""The `Simulator`: runs the simulated API with uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .faults import Fault
from .state import RecordedRequest, SimulatorConfig, SimulatorState

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# How long a stop waits for open streams before uvicorn cancels them.
GRACEFUL_SHUTDOWN = 1


class Simulator:
    """A local Heroku Managed Inference API on a real socket; also a context manager."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self._state = SimulatorState(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self) -> Simulator:
        """Start serving and return once the socket is listening."""
        if self._thread is not None:
            return self
        sock = _bind(self.config.host, self.config.port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self._state),
            log_config=None,  # leave the host process's logging configuration alone
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"heroku-simulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the Heroku simulator did not start on {self.config.host}:{self._port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving; open streams get a second to finish, then are cut."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port actually bound (useful when the configured port is 0)."""
        if self._port is None:
            raise RuntimeError("the simulator has not been started")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, like ``INFERENCE_URL`` (no ``/v1``)."""
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            # A wildcard bind is reachable on loopback; clients cannot connect to the wildcard itself.
            host = "127.0.0.1" if host != "::" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def key(self) -> str:
        """The bearer key the simulator accepts."""
        return self.config.key

    def env(self) -> dict[str, str]:
        """``INFERENCE_URL``, ``INFERENCE_KEY`` and ``INFERENCE_MODEL_ID`` for this simulator."""
        return {"INFERENCE_URL": self.url, "INFERENCE_KEY": self.key, "INFERENCE_MODEL_ID": self.config.model}

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (admin endpoints excluded), oldest first."""
        return self._state.requests()

    @property
    def last_request(self) -> dict[str, Any] | None:
        """The JSON body of the last POST, or None."""
        return next((r.body for r in reversed(self._state.requests()) if r.method == "POST"), None)

    @property
    def active_streams(self) -> int:
        """How many streaming responses are being generated right now."""
        return self._state.active_streams

    @property
    def peak_streams(self) -> int:
        """The most streaming responses generated at once since the last reset (concurrency, counted)."""
        return self._state.peak_streams

    def inject(self, kind: str, times: int = 1, **params: Any) -> Fault:
        """Apply fault ``kind`` to the next ``times`` chat/agents requests (see `faults`)."""
        return self._state.faults.inject(kind, times, **params)

    def pending_faults(self) -> list[dict[str, Any]]:
        """Faults not used up yet, with their remaining uses."""
        return self._state.faults.pending()

    def reset(self) -> None:
        """Forget requests and faults; restore the pacing the simulator was built with."""
        self._state.reset()


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket bound to ``host:port`` (port 0: the OS picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
