"""CPU time of a warm (cached) 200-task fragment and page, in process, on demo data.

Wall-clock figures from the fast simulator move by a third between runs on a shared machine; CPU
time of the same request in one process moves by a few per cent. To compare two versions of the
app, run this in each checkout in turn, a few times: `python -m bench.warm_cpu`.
"""

from __future__ import annotations

import statistics
import time

from bench.common import tasks_path
from webapp import create_app

URL = tasks_path() + "?limit=200"
FRAGMENT = {"HX-Request": "true"}


def main(repeat: int = 60) -> None:
    client = create_app({"BLAXEL_API_KEY": ""}).test_client()

    def cpu_ms(headers: dict[str, str]) -> float:
        started = time.process_time()
        assert client.get(URL, headers=headers).status_code == 200
        return (time.process_time() - started) * 1000

    for _ in range(5):  # fills the cache and warms the templates
        cpu_ms(FRAGMENT)
        cpu_ms({})
    fragment = statistics.median(cpu_ms(FRAGMENT) for _ in range(repeat))
    page = statistics.median(cpu_ms({}) for _ in range(repeat))
    print(f"warm 200-task fragment {fragment:.1f} ms CPU, warm page {page:.1f} ms CPU")


if __name__ == "__main__":
    main()
