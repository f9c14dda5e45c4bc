#!/usr/bin/env python3
"""Benchmark of the incremental metrics engine (BENCHMARKS.md, "The incremental engine").

    cargo build --release
    python3 scripts/dora-history.py 150000 4 /tmp/h150k.jsonl --listed --services 40 --incident-every 50
    python3 scripts/bench-incremental.py /tmp/h150k.jsonl [--database-url URL] [--tries 20]
        [--load 100] [--skip-recompute] [--keep]

Against a release server (SQLite in a temporary directory unless --database-url names a
PostgreSQL database, which must be empty or already hold this history):

1. loads the history through POST /cdevents (1,000 CDEvents per request) and times how long
   the pipeline takes to count it (the calculator's throughput, CDEvents/s), with the
   server's peak memory while it did;
2. restarts the server and times the first answer of GET /api/v1/dora after the start;
3. times GET /api/v1/dora for the history's year and a quarter, a filtered scope's first and
   next answers, and drill-down pages (the first, one 100 pages deep by `after` and by offset);
4. runs a background load of --load events/s (deployments of other services, the year before)
   and, --tries times, posts one production deployment at a random time of the year and polls
   the year's keys until it is counted: new-event-to-answer latency, p50/p99/max;
5. reports the server's peak (VmHWM) and steady (VmRSS) memory since the restart;
6. unless --skip-recompute, stops the server and times a cold `dora-events recompute`.

Results go to standard output as text and, with --json FILE, as JSON.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

args = sys.argv[1:]


def option(name, default=None):
    if name in args:
        return args[args.index(name) + 1]
    return default


HISTORY = args[0] if args and not args[0].startswith("--") else sys.exit(__doc__)
BIN = option("--bin", os.environ.get("DORA_BIN", "target/release/dora-events"))
PORT = int(option("--port", "18791"))
TRIES = int(option("--tries", "20"))
LOAD = int(option("--load", "100"))
DATABASE_URL = option("--database-url")
TMP = tempfile.mkdtemp(prefix="bench-incremental-")
if not DATABASE_URL:
    DATABASE_URL = f"sqlite://{TMP}/bench.db"
BASE = f"http://127.0.0.1:{PORT}"
results = {"history": HISTORY, "database": DATABASE_URL.split("://")[0]}


def say(text):
    print(text, flush=True)


def request(path, body=None, timeout=120):
    data = None if body is None else body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(BASE + path, data=data, method="POST" if body is not None else "GET")
    if body is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, response.read()


def get_json(path):
    return json.loads(request(path)[1])


def timed(path):
    start = time.perf_counter()
    status, body = request(path)
    elapsed = time.perf_counter() - start
    assert status == 200, (path, status)
    return elapsed, json.loads(body)


class Server:
    def __init__(self):
        env = dict(os.environ, RUST_LOG="error", DORA_DORA__FRESHNESS_WAIT="2s")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{PORT}", "--database-url", DATABASE_URL], env=env)

    def memory(self):
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(("VmHWM", "VmRSS")):
                    name, value = line.split(":")
                    fields[name] = int(value.split()[0]) // 1024
        return fields

    def wait_ready(self):
        for _ in range(6000):
            try:
                if request("/readyz", timeout=2)[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.01)
        raise SystemExit("the server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=120)


def pipeline():
    return get_json("/api/v1/pipeline")


def wait_processed(deadline=7200):
    start = time.time()
    while time.time() - start < deadline:
        state = pipeline()
        if state["router_lag"] == 0 and state["deployments_lag"] == 0:
            return state
        time.sleep(0.5)
    raise SystemExit("the pipeline did not catch up")


YEAR = None


def history_year():
    with open(HISTORY) as lines:
        first = json.loads(lines.readline())
    return first[0]["context"]["timestamp"][:4]


YEAR = int(history_year())
year_window = f"from={YEAR}-01-01&to={YEAR}-12-31"
quarter_window = f"from={YEAR}-04-01&to={YEAR}-06-30"

# 1. Load.
server = Server()
server.wait_ready()
state = pipeline()
if state["cdevents"] == 0:
    say(f"loading {HISTORY} ...")
    start = time.perf_counter()
    posted = 0
    with open(HISTORY) as lines:
        for line in lines:
            status, _ = request("/cdevents", line.strip())
            assert status == 202, status
            posted += line.count('"context"')
    posted_at = time.perf_counter() - start
    state = wait_processed()
    processed_at = time.perf_counter() - start
    results["load"] = {
        "cdevents": state["cdevents"],
        "posted_seconds": round(posted_at, 1),
        "processed_seconds": round(processed_at, 1),
        "cdevents_per_second": round(state["cdevents"] / processed_at),
        "memory_mib": server.memory(),
    }
    say(f"loaded {state['cdevents']} CDEvents: posted in {posted_at:.1f} s, counted in {processed_at:.1f} s "
        f"({state['cdevents'] / processed_at:.0f}/s); memory {server.memory()} MiB")
else:
    wait_processed()
    say(f"reusing a database of {state['cdevents']} CDEvents")
server.stop()

# 2. First answer after a restart.
server = Server()
server.wait_ready()
start = time.perf_counter()
first, answer = timed(f"/api/v1/dora?{year_window}")
since_start = time.perf_counter() - server.started
results["first_answer"] = {"request_seconds": round(first, 3), "since_process_start_seconds": round(since_start, 3)}
deployments_in_year = answer["keys"]["deployment_frequency"]["value"]
say(f"first answer after a restart: {first:.3f} s ({since_start:.3f} s after the process started); "
    f"{deployments_in_year} deployments in {YEAR}")

# 3. Query timings.


def times(path, n=5):
    return [round(timed(path)[0] * 1000, 1) for _ in range(n)]


results["year_ms"] = times(f"/api/v1/dora?{year_window}")
results["quarter_ms"] = times(f"/api/v1/dora?{quarter_window}")
scope_first = round(timed(f"/api/v1/dora?{year_window}&service=svc-1")[0] * 1000, 1)
results["filtered_scope_ms"] = {"first": scope_first, "next": times(f"/api/v1/dora?{year_window}&service=svc-1", 3)}
page_first, page = timed(f"/api/v1/deployments?{year_window}&limit=100")
after = page["next"]
for _ in range(99):
    after = get_json(f"/api/v1/deployments?{year_window}&limit=100&after={after}")["next"]
deep_after = round(timed(f"/api/v1/deployments?{year_window}&limit=100&after={after}")[0] * 1000, 1)
deep_offset = round(timed(f"/api/v1/deployments?{year_window}&limit=100&offset=10000")[0] * 1000, 1)
changes_first = round(timed(f"/api/v1/changes?{year_window}&limit=100")[0] * 1000, 1)
results["drill_down_ms"] = {
    "deployments_first_page": round(page_first * 1000, 1),
    "deployments_page_101_by_after": deep_after,
    "deployments_offset_10000": deep_offset,
    "changes_first_page": changes_first,
}
say(f"year {results['year_ms']} ms; quarter {results['quarter_ms']} ms; "
    f"one service: first {scope_first} ms, then {results['filtered_scope_ms']['next']} ms")
say(f"drill-down: {results['drill_down_ms']} ms")

# 4. New event to answer, under a background load.
stop_load = threading.Event()
background_sent = [0]


def background():
    n = 0
    interval = 0.1
    per_tick = max(1, LOAD // 10)
    while not stop_load.is_set():
        tick = time.perf_counter()
        batch = []
        for _ in range(per_tick):
            n += 1
            at = f"{YEAR - 1}-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
            batch.append({
                "context": {"specversion": "0.5.1", "id": f"bg-{os.getpid()}-{n}", "source": "/bench-load",
                            "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
                "subject": {"id": f"bg-{n % 20}", "source": "/bench-load",
                            "content": {"environment": {"id": "production"}, "artifactId": f"pkg:oci/bg@{n}"}},
                "customData": {"dora": {"revision": f"{n:040x}", "commits": [
                    {"sha": f"{n:038x}ff", "timestamp": at}]}}})
        try:
            request("/cdevents", json.dumps(batch))
            background_sent[0] += len(batch)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(max(0.0, interval - (time.perf_counter() - tick)))


loader = threading.Thread(target=background, daemon=True)
loader.start()
time.sleep(3)
rng = random.Random(13)
latencies = []
count = get_json(f"/api/v1/dora?{year_window}")["keys"]["deployment_frequency"]["value"]
for attempt in range(TRIES):
    day = rng.randrange(0, 364)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.mktime((YEAR, 1, 1, 0, 0, 0, 0, 0, 0)) - time.timezone
                                                           + day * 86400 + rng.randrange(86400)))
    probe = [{"context": {"specversion": "0.5.1", "id": f"probe-{os.getpid()}-{attempt}", "source": "/bench-probe",
                          "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
              "subject": {"id": f"svc-{rng.randrange(40)}", "source": "/bench-probe",
                          "content": {"environment": {"id": "production"}, "artifactId": f"pkg:oci/probe@{attempt}"}},
              "customData": {"dora": {"revision": f"{attempt:036x}abcd",
                                      "commits": [{"sha": f"{attempt:036x}abcd", "timestamp": at}]}}}]
    start = time.perf_counter()
    status, _ = request("/cdevents", json.dumps(probe))
    assert status == 202
    while True:
        value = get_json(f"/api/v1/dora?{year_window}")["keys"]["deployment_frequency"]["value"]
        if value > count:
            latencies.append(time.perf_counter() - start)
            count = value
            break
        if time.perf_counter() - start > 120:
            raise SystemExit("a new deployment was not counted within 120 s")
        time.sleep(0.01)
    time.sleep(0.2)
stop_load.set()
loader.join()
latencies.sort()
p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
results["new_event_to_answer_ms"] = {
    "tries": len(latencies),
    "p50": round(statistics.median(latencies) * 1000),
    "p99": round(p99 * 1000),
    "max": round(latencies[-1] * 1000),
    "background_events": background_sent[0],
}
say(f"new event to answer over {len(latencies)} tries with {LOAD} events/s in the background: "
    f"p50 {results['new_event_to_answer_ms']['p50']} ms, p99 {results['new_event_to_answer_ms']['p99']} ms, "
    f"max {results['new_event_to_answer_ms']['max']} ms")

# 5. Memory since the restart.
results["memory_mib"] = server.memory()
say(f"server memory since the restart: peak (VmHWM) {results['memory_mib']['VmHWM']} MiB, "
    f"steady (VmRSS) {results['memory_mib']['VmRSS']} MiB")
server.stop()

# 6. Cold recompute.
if "--skip-recompute" not in args:
    start = time.perf_counter()
    output = subprocess.run([BIN, "recompute", "--database-url", DATABASE_URL], env=dict(os.environ, RUST_LOG="error"),
                            check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    report = json.loads(output) if output.strip().startswith("{") else {}
    cdevents = report.get("cdevents_read") or report.get("cdevents_emitted") or 0
    results["recompute"] = {"seconds": round(elapsed, 1), "cdevents": cdevents,
                            "cdevents_per_second": round(cdevents / elapsed) if cdevents else None}
    say(f"cold recompute: {elapsed:.1f} s for {cdevents} CDEvents ({results['recompute']['cdevents_per_second']}/s)")

if option("--json"):
    with open(option("--json"), "w") as out:
        json.dump(results, out, indent=2)
print(json.dumps(results))
