"""Serve the simulator over HTTP: python -m webapp.simulator --port 8765."""

import argparse

from werkzeug.serving import run_simple

from webapp.simulator import create_simulator


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the Blaxel API simulator.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args()
    app = create_simulator()
    print(f"Blaxel simulator listening on http://{options.host}:{options.port}/v0", flush=True)
    run_simple(options.host, options.port, app, threaded=True)


if __name__ == "__main__":
    main()
