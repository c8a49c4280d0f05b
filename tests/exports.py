"""Reading an export as a browser downloads it, and telling a complete file from one marked
incomplete (the markers of docs/exports.md: a last CSV row starting with "# EXPORT INCOMPLETE",
a JSON document ending with an {"error": ...} object and no closing "]")."""

from __future__ import annotations

import csv
import gc
import io
import json

import httpx
import pytest

from .browser import serve

INCOMPLETE = "# EXPORT INCOMPLETE"


def download(client, url: str, most: int = 4_000_000) -> tuple[httpx.Response, bytes]:
    """(response, body) of an export fetched from the app on a loopback socket, so that a failure
    mid-file is what a real server makes of it, and read as it streams.

    The test fails if the file goes on past `most` bytes (an export that never ends), or if the
    server cut it off mid-way (what a person then holds is a truncated file with no marker).
    """
    # Uncompressed: every chunk is written as it comes, so the server notices a reader that
    # gave up (a compressor may hold a small export's output back until its end).
    headers = {"Accept-Encoding": "identity"}
    chunks: list[bytes] = []
    size = 0
    # The timeout only keeps a stalled server from holding the run: no test is about time.
    with serve(client.application) as base, httpx.Client(base_url=base, timeout=30) as http:
        try:
            with http.stream("GET", url, headers=headers) as response:
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > most:
                        pytest.fail(f"still streaming past {most} bytes ({len(chunks)} chunks)")
        except httpx.TimeoutException:
            pytest.fail(f"the file stalled ({len(chunks)} chunks)")
        except httpx.TransportError as error:
            pytest.fail(f"the file was cut off mid-way, unmarked ({type(error).__name__})")
        finally:
            # A streaming view the server abandoned is finalised now, not at a random moment.
            gc.collect()
    return response, b"".join(chunks)


def is_marked_incomplete(fmt: str, body: bytes) -> bool:
    text = body.decode("utf-8-sig")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return bool(rows and rows[-1] and rows[-1][0].startswith(INCOMPLETE))
    try:
        json.loads(text)
        return False  # a whole document
    except json.JSONDecodeError:
        pass
    try:
        last = json.loads(text.rstrip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return False
    return isinstance(last, dict) and "error" in last and not text.rstrip().endswith("]")


def exported_names(fmt: str, body: bytes) -> list[str]:
    """The task names of a complete export, in file order."""
    text = body.decode("utf-8-sig")
    if fmt == "csv":
        return [row["name"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    return [task["name"] for task in json.loads(text)]
