"""Serve the simulator over HTTP: python -m webapp.simulator --port 8765 [--latency 80ms]."""

import argparse

from werkzeug.serving import run_simple

from webapp.simulator import create_simulator
from webapp.simulator.latency import BASE_SECONDS, SCAN_COST_SECONDS, Latency, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Blaxel API simulator.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--latency",
        type=seconds,
        help=f"answer like Blaxel: this base delay a call (e.g. {BASE_SECONDS * 1000:g}ms) …",
    )
    parser.add_argument(
        "--scan-cost",
        type=seconds,
        default=SCAN_COST_SECONDS,
        help=f"… plus this a task event scanned by a task-list call "
        f"(default {SCAN_COST_SECONDS * 1e6:g}us; only with --latency)",
    )
    options = parser.parse_args()
    latency = Latency(options.latency, options.scan_cost) if options.latency is not None else None
    app = create_simulator(latency=latency)
    print(f"Blaxel simulator listening on http://{options.host}:{options.port}/v0", flush=True)
    run_simple(options.host, options.port, app, threaded=True)


if __name__ == "__main__":
    main()
