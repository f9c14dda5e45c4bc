#!/usr/bin/env python3
"""Slow readers of a dora-events read route: each client asks for PATH, then reads its answer
1 KiB a second through a 4 KiB receive buffer, for SECONDS; a 503 is retried after 0.2 s.
Prints how many answers of each status came. With --pid, also the server's peak RSS (VmHWM).

    python3 scripts/slow-readers.py --url http://127.0.0.1:8080 --path '/api/v1/events?limit=500' \\
        --clients 400 --seconds 25 --pid "$(pgrep -f 'dora-events serve')"
"""
import argparse
import collections
import socket
import threading
import time
import urllib.parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--path", default="/api/v1/events?limit=500")
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--token", help="a read token, when reading is protected")
    parser.add_argument("--pid", type=int, help="the server's process id, for its peak memory")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    address = (url.hostname, url.port or 80)
    head = f"GET {args.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    if args.token:
        head += f"Authorization: Bearer {args.token}\r\n"
    request = (head + "\r\n").encode()
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] += 1

    def reader() -> None:
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.settimeout(30)
                sock.connect(address)
                sock.sendall(request)
                first = sock.recv(1024)
                status = first[9:12].decode(errors="replace") or "closed"
                count(status)
                if status == "503":
                    time.sleep(0.2)
                    continue
                try:
                    while time.monotonic() < end and sock.recv(1024):
                        time.sleep(1)
                except OSError as error:
                    count(type(error).__name__)
                return

    threads = [threading.Thread(target=reader) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(dict(counts))
    if args.pid:
        with open(f"/proc/{args.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmHWM", "VmRSS")):
                    print(line.strip())


if __name__ == "__main__":
    main()
