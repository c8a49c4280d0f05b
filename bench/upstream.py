"""The simulator on a socket, recording every call so the benchmark can count upstream work.

`python -m bench.upstream --port 8765`; GET /_bench/calls lists [seconds, path?query] since
the last POST /_bench/reset.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from werkzeug.serving import run_simple

from webapp.simulator import create_simulator


class CountingUpstream:
    def __init__(self) -> None:
        self.simulator = create_simulator()
        self.calls: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_bench/calls":
            with self._lock:
                body = json.dumps(self.calls).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/_bench/reset":
            with self._lock:
                self.calls = []
            start_response("204 No Content", [])
            return [b""]
        query = environ.get("QUERY_STRING", "")
        with self._lock:
            self.calls.append((time.monotonic(), path + ("?" + query if query else "")))
        return self.simulator(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description="The simulator, counting its calls.")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    run_simple("127.0.0.1", options.port, CountingUpstream(), threaded=True)


if __name__ == "__main__":
    main()
