"""Serving the reading room with uvicorn: in the foreground (``newswatch serve``)
or on a thread inside the service (``newswatch run`` with ``web.port`` set).

The listening socket is bound before uvicorn starts, so a port in use is a
clear error at once, and a request that arrives early waits in the backlog
instead of being refused. Away from loopback the token is required (the
config refuses to load without one, and this checks again for ``--host``).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from dataclasses import replace
from typing import Callable

import uvicorn

import storage
from pipeline.config import Settings
from pipeline.web.options import WebConfig
from pipeline.errors import ConfigError, WebError
from pipeline.web.app import create_app

log = logging.getLogger("newswatch.web")
DEFAULT_PORT = 8080
STOP_WAIT = 3.0


def web_config(settings: Settings, host: str | None = None, port: int | None = None
               ) -> WebConfig:
    """The settings' web section with the command line's --host/--port applied."""
    web = settings.web
    port = port if port is not None else web.port
    web = replace(web, host=host or web.host, port=DEFAULT_PORT if port is None else port)
    if web.needs_token and not web.token:
        raise ConfigError(f"serving on {web.host} (not loopback) requires web.token or "
                          "NEWSWATCH_WEB_TOKEN", key="web.token")
    return web


class ReadingRoom:
    """uvicorn on a bound socket, on a thread: ``start`` returns at once, ``run``
    returns when a signal asks it to."""

    def __init__(self, settings: Callable[[], Settings], store: storage.Store, web: WebConfig):
        self.web = web
        self.socket = _bind(web.host, DEFAULT_PORT if web.port is None else int(web.port))
        app = create_app(settings, store, token=web.token)
        config = uvicorn.Config(app, host=web.host, port=self.port, log_config=None,
                                log_level="warning", access_log=False, proxy_headers=False,
                                server_header=False,
                                lifespan="off", timeout_graceful_shutdown=int(STOP_WAIT))
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.web.host}]" if ":" in self.web.host else self.web.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly. On a thread, with our
        own handlers: uvicorn's re-raise the signal after its shutdown, and the
        command would end killed by it instead of exiting 0."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(1.0) and self.thread.is_alive():
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self) -> "ReadingRoom":
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="reading-room", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(STOP_WAIT + 1)
        self.socket.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except OSError as exc:
        raise WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def start_in_service(settings: Callable[[], Settings], store: storage.Store
                     ) -> ReadingRoom | None:
    """The reading room on a thread of ``newswatch run``, when ``web.port`` is set.
    A port that cannot be bound is logged and the service carries on without it:
    polling matters more than reading."""
    web = settings().web
    if web.port is None:
        return None
    try:
        room = ReadingRoom(settings, store, web).start()
    except WebError as exc:
        log.error("%s; the service runs without the reading room", exc)
        return None
    log.info("web: the reading room is at %s%s", room.url,
             " (token required)" if web.token else "")
    return room
