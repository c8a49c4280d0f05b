"""The app, served alone on a socket, every upstream call answered at once from recorded answers:
what is left of a page's time is the app's own work.

`python -m bench.replay --port 8766 --answers answers.json` (a JSON object: upstream path → body)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
from werkzeug.serving import run_simple

from webapp import create_app


def replaying(answers: dict[str, bytes]):
    """The app whose upstream answers each path with its recorded body (and 404 otherwise)."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = answers.get(request.url.path)
        return httpx.Response(200, content=body) if body else httpx.Response(404)

    transport = httpx.MockTransport(answer)
    return create_app(
        {"BLAXEL_API_KEY": "bench-token", "WEBAPP_CACHE_TTL": "0"}, transport=transport
    )


def record(answers: dict[str, bytes], path: Path) -> None:
    path.write_text(json.dumps({key: body.decode() for key, body in answers.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description="The app on replayed upstream answers.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answers", type=Path, required=True)
    options = parser.parse_args()
    recorded = json.loads(options.answers.read_text())
    app = replaying({key: body.encode() for key, body in recorded.items()})
    run_simple("127.0.0.1", options.port, app, threaded=True)


if __name__ == "__main__":
    main()
