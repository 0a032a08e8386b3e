"""Serving the emulator with uvicorn on a loopback port: in a background thread, or blocking.

Only loopback addresses are accepted.  The listening socket is bound (and listening) before
uvicorn starts, so port 0 picks a free port that is known at once and the base URL can be
printed before the first request.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["EmulatorServer", "bind_loopback", "serve"]


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on loopback ``host``:``port`` (0 picks a free port)."""
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError as exc:
        raise ValueError(f"{host!r} is not an IP address") from exc
    if not address.is_loopback:
        raise ValueError(f"the emulator only listens on loopback addresses, not {host}")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux; asyncio sets it only when the listening
    # socket names IPPROTO_TCP. Without it each small response waits ~40 ms for Nagle.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((str(address), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Any, log_level: str, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,
    )


class EmulatorServer:
    """Uvicorn serving ``app`` on loopback from a daemon thread; a context manager.

    ``start`` returns once the server accepts connections (or raises after ``timeout``);
    ``stop`` asks it to exit and joins the thread.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        access_log: bool = False,
    ) -> None:
        self._sock = bind_loopback(host, port)
        self.base_url = _base_url(self._sock)
        """``http://127.0.0.1:PORT``."""
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app, log_level, access_log))
        self._thread = threading.Thread(target=self._run, name="runway-emulator", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Start serving; wait until uvicorn has started (at most ``timeout`` seconds)."""
        self._thread.start()
        ready = threading.Event()
        deadline = timeout
        while not self._server.started and deadline > 0:
            if not self._thread.is_alive():
                break
            ready.wait(0.01)
            deadline -= 0.01
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the emulator did not start within {timeout} s: {self._error}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (at most ``timeout`` seconds)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    app: Any,
    sock: socket.socket,
    *,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
    access_log: bool = False,
) -> None:
    """Serve ``app`` on the listening ``sock`` in this thread until interrupted (Ctrl-C).

    ``on_ready`` is called with the base URL before serving starts; connections made from
    then on wait in the socket's backlog until uvicorn accepts them.
    """
    server = uvicorn.Server(_config(app, log_level, access_log))
    if on_ready is not None:
        on_ready(_base_url(sock))
    server.run(sockets=[sock])
