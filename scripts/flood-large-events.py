#!/usr/bin/env python3
"""Floods a dora-events server with large structured CloudEvents from many clients at once, and
reports the answers by status and (with --pid) the server's peak resident memory (VmHWM).

Usage: scripts/flood-large-events.py --url http://127.0.0.1:8080 --clients 200 --seconds 30 \\
           --size 512000 --pid <server pid>

Each client is a thread with its own keep-alive connection that posts events of about --size
bytes (a JSON string in `data`) as fast as the server answers; like Python's urllib it writes the
whole body before reading the answer. Standard library only (BENCHMARKS.md, "Flood of large events").
"""

import argparse
import collections
import http.client
import json
import threading
import time
import urllib.parse
import uuid


def peak_memory(pid):
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {key: fields[key].strip() for key in ("VmHWM", "VmRSS") if key in fields}


def client(url, size, deadline, counts, lock):
    parts = urllib.parse.urlsplit(url)
    connection = None
    filler = "x" * size
    while time.monotonic() < deadline:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/flood",
            "type": "com.example.flood",
            "data": filler,
        }
        body = json.dumps(event).encode()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            connection.request(
                "POST",
                "/events",
                body=body,
                headers={"Content-Type": "application/cloudevents+json"},
            )
            response = connection.getresponse()
            response.read()
            outcome = str(response.status)
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                connection = None
            if response.status == 503:
                time.sleep(0.05)
        except (OSError, http.client.HTTPException) as error:
            outcome = type(error).__name__
            if connection is not None:
                connection.close()
            connection = None
        with lock:
            counts[outcome] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--size", type=int, default=512_000)
    parser.add_argument("--pid", type=int, help="the server's process id, for its peak memory")
    options = parser.parse_args()
    counts = collections.Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + options.seconds
    threads = [
        threading.Thread(
            target=client,
            args=(options.url, options.size, deadline, counts, lock),
            daemon=True,
        )
        for _ in range(options.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    report = {
        "clients": options.clients,
        "event_bytes": options.size,
        "seconds": round(elapsed, 1),
        "answers": dict(sorted(counts.items())),
        "accepted_mib_per_s": round(counts["202"] * options.size / elapsed / 2**20, 1),
    }
    if options.pid:
        report["server_memory"] = peak_memory(options.pid)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
