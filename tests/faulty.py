"""A misbehaving HTTP server on a loopback socket: each test scripts what it does to a request."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from bench.serving import free_port

# What the server does with one accepted connection, after reading the request head.
Behaviour = Callable[[socket.socket, threading.Event], None]


def read_head(connection: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


class FaultyServer:
    """Serves `behaviour` (changeable between requests); counts the requests it received."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.stopping = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = read_head(self.request)
                if not head:
                    return
                server.requests.append(head)
                behaviour = server.behaviour
                if isinstance(behaviour, ByPath):
                    behaviour = behaviour.choose(head)
                behaviour(self.request, server.stopping)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v0"

    def __enter__(self) -> FaultyServer:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class ByPath:
    """A behaviour per upstream path: the first route whose key ends the request's path."""

    def __init__(self, routes: dict[str, Behaviour], default: Behaviour) -> None:
        self.routes = routes
        self.default = default

    def choose(self, head: bytes) -> Behaviour:
        target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
        path = target.split(b"?", 1)[0].decode("latin-1")
        return next(
            (behaviour for end, behaviour in self.routes.items() if path.endswith(end)),
            self.default,
        )


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    def behaviour(connection: socket.socket, stopping: threading.Event) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        # OSError: the client stopped reading (a size cap), as it should.
        with contextlib.suppress(OSError):
            connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return behaviour


def sequence(*behaviours: Behaviour) -> Behaviour:
    """The first request gets the first behaviour, and so on; the last one repeats."""
    remaining = list(behaviours)

    def behaviour(connection: socket.socket, stopping: threading.Event) -> None:
        current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        current(connection, stopping)

    return behaviour


def reset_mid_body(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b'{"data": [' * 20)
    # SO_LINGER 0: close() sends a TCP reset instead of a clean end of stream.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def reset_before_reply(connection: socket.socket, stopping: threading.Event) -> None:
    """The request is read, then the connection is reset: nothing at all was answered."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


class Clock(Protocol):
    """The tests' FakeClock, as the `deadline_clock` fixture makes deadlines read it."""

    def advance(self, seconds: float) -> None: ...


def later(clock: Clock, seconds: float, behaviour: Behaviour) -> Behaviour:
    """`behaviour`, `seconds` later on `clock`: a slow answer that takes no real time."""

    def delayed(connection: socket.socket, stopping: threading.Event) -> None:
        clock.advance(seconds)
        behaviour(connection, stopping)

    return delayed


def trickle_head(clock: Clock, step: float = 0.2, most: int = 100) -> Behaviour:
    """A status line, then a header one byte every `step` seconds on `clock`: the head never
    ends. After `most` bytes the server hangs up, so that an app that never gives up sees a cut
    answer (a 502), not a timeout."""

    def behaviour(connection: socket.socket, stopping: threading.Event) -> None:
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(most):
                if stopping.is_set():
                    return
                clock.advance(step)
                connection.sendall(b"a")
        except OSError:
            pass  # the client gave up and closed the connection, as it should

    return behaviour


def trickle_body(clock: Clock, step: float = 0.05, most: int = 1000) -> Behaviour:
    """A body announced at 100 MB that comes a byte every `step` seconds on `clock`; after
    `most` bytes the server hangs up (a cut answer, for an app that never gives up)."""

    def behaviour(connection: socket.socket, stopping: threading.Event) -> None:
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            for _ in range(most):
                if stopping.is_set():
                    return
                clock.advance(step)
                connection.sendall(b" ")
        except OSError:
            pass  # the client gave up and closed the connection, as it should

    return behaviour


def never_answer(connection: socket.socket, stopping: threading.Event) -> None:
    stopping.wait(30)


@contextmanager
def refused_url() -> Iterator[str]:
    """A loopback URL whose port refuses connections."""
    yield f"http://127.0.0.1:{free_port()}/v0"
