"""The simulator on a socket, recording every call so the benchmark can count upstream work.

`python -m bench.upstream --port 8765 [--latency 80ms [--scan-cost 20us]]`; GET /_bench/calls
lists [arrived, seconds taken, path?query] since the last POST /_bench/reset.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from werkzeug.serving import run_simple

from webapp.simulator import Latency, create_simulator
from webapp.simulator.latency import SCAN_COST_SECONDS, seconds


class CountingUpstream:
    def __init__(self, latency: Latency | None = None) -> None:
        self.simulator = create_simulator(latency=latency)
        self.calls: list[tuple[float, float, str]] = []
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
        arrived = time.monotonic()
        # The answer is made (and its latency spent) before the body is handed back.
        body = b"".join(self.simulator(environ, start_response))
        with self._lock:
            self.calls.append(
                (arrived, time.monotonic() - arrived, path + ("?" + query if query else ""))
            )
        return [body]


def main() -> None:
    parser = argparse.ArgumentParser(description="The simulator, counting its calls.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=seconds, help="a base delay a call, e.g. 80ms")
    parser.add_argument("--scan-cost", type=seconds, default=SCAN_COST_SECONDS)
    options = parser.parse_args()
    latency = Latency(options.latency, options.scan_cost) if options.latency is not None else None
    run_simple("127.0.0.1", options.port, CountingUpstream(latency), threaded=True)


if __name__ == "__main__":
    main()
