"""Slow clients on loopback: connections that send their headers a byte at a time, and readers
that take an export a few hundred bytes at a time. Used by `bench.load --slow N` and by the test
that the production server keeps answering others while they are connected."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

EXPORT = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks.csv"
# A small receive window, so the server's writes wait on this reader almost at once.
READER_BUFFER = 4096


class SlowClients:
    """Holds `count` slow connections to host:port until close(): half send their headers one
    byte per `pause` seconds and never finish them, half ask for an export and read it `chunk`
    bytes per `pause` seconds. One the server closes is opened again, as an attacker would."""

    def __init__(
        self,
        host: str,
        port: int,
        count: int,
        *,
        pause: float = 1.0,
        chunk: int = 256,
        path: str = EXPORT,
    ) -> None:
        self.address = (host, port)
        self.count = count
        self.pause = pause
        self.chunk = chunk
        self.path = path
        self.stopping = threading.Event()
        self.open = 0  # connected right now
        self.closed_by_server = 0
        self.refused = 0
        self.export_answers: Counter[str] = Counter()  # status codes the readers were sent
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        kinds = itertools.cycle([self._send_headers_slowly, self._read_slowly])
        self._threads = [
            threading.Thread(target=self._keep_open, args=(kind,), daemon=True)
            for kind in itertools.islice(kinds, count)
        ]

    def __enter__(self) -> SlowClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # it may be closing already
                    connection.shutdown(socket.SHUT_RDWR)  # wakes a reader waiting in recv()
        for thread in self._threads:
            thread.join(timeout=self.pause + 5)

    def wait_open(self, seconds: float = 10) -> int:
        """How many are open, once all are or `seconds` have passed."""
        deadline = time.monotonic() + seconds
        while self.open < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.open

    def wait_answered(self, seconds: float = 30) -> int:
        """How many export requests were answered, once every reader's first one was or
        `seconds` have passed."""
        readers = self.count // 2
        deadline = time.monotonic() + seconds
        while self.export_answers.total() < readers and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.export_answers.total()

    def _count(self, **changes: int) -> None:
        with self._lock:
            for name, change in changes.items():
                setattr(self, name, getattr(self, name) + change)

    def _keep_open(self, behave: Callable[[socket.socket], None]) -> None:
        while not self.stopping.is_set():
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Set before connecting, so the window is small from the handshake on.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, READER_BUFFER)
            connection.settimeout(self.pause + 10)
            with connection:
                try:
                    connection.connect(self.address)
                except OSError:
                    self._count(refused=1)
                    self.stopping.wait(self.pause)
                    continue
                self._count(open=1)
                with self._lock:
                    self._connections.add(connection)
                try:
                    behave(connection)
                except OSError:
                    pass
                finally:
                    self._count(open=-1)
                    with self._lock:
                        self._connections.discard(connection)
                if not self.stopping.is_set():
                    self._count(closed_by_server=1)

    def _send_headers_slowly(self, connection: socket.socket) -> None:
        for byte in _endless_header():
            connection.sendall(byte)
            if self.stopping.wait(self.pause):
                return

    def _read_slowly(self, connection: socket.socket) -> None:
        request = f"GET {self.path} HTTP/1.1\r\nHost: {self.address[0]}\r\n\r\n"
        connection.sendall(request.encode())
        first = connection.recv(self.chunk)
        status = first.split(b" ", 2)[1:2]  # b"HTTP/1.1 200 OK…" -> [b"200"]
        with self._lock:
            self.export_answers[status[0].decode(errors="replace") if status else "closed"] += 1
        while first and not self.stopping.wait(self.pause):
            if not connection.recv(self.chunk):
                return


def _endless_header() -> Iterator[bytes]:
    yield from (bytes([byte]) for byte in b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
    for number in itertools.count():
        yield from (bytes([byte]) for byte in f"X-Slow-{number}: 1\r\n".encode())
