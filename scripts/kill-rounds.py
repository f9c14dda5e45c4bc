#!/usr/bin/env python3
"""Load-and-kill test of a dora-events binary: is every acknowledged event kept, exactly once?

Starts `dora-events serve` (all roles in one process, with an ingest token and a read token, so
the real authenticated configuration is exercised), runs K concurrent clients that post unique
CloudEvents to `POST /events` (single structured events, `application/cloudevents+json`, and
batches, `application/cloudevents-batch+json`), among them Kubernetes Deployment updates shaped
like Knative's ApiServerSource sends them, so that the router and the deployments calculator are
busy while the server dies. Every id answered 2xx is recorded as acknowledged.

* `--rounds N`: N times, at a random moment (`--up-min`..`--up-max` seconds after the server is
  ready) the server is killed with SIGKILL and started again at once. Clients retry whatever was
  not acknowledged (refused connections, reset connections, 503) with the same body: a retry of an
  event that had been stored before the kill is answered as a duplicate, which is fine.
* `--outages M` (PostgreSQL only): M times, while clients post, the database refuses connections
  for `--outage-seconds` (`ALTER DATABASE .. ALLOW_CONNECTIONS false` and every backend of the
  database terminated), then accepts them again. The statuses clients saw before, during and after
  each outage are counted (202 / 503 with Retry-After / anything else: a 500 is a finding), and the
  time from the database being back to the first 202.

At the end the clients stop, the pipeline is waited for (`GET /api/v1/pipeline`: `router_lag` and
`deployments_lag` 0), and the database is read directly: every acknowledged (source, id) must be in
`cloudevents_raw` exactly once, and the `deployments` table must hold exactly one row per distinct
rollout (Deployment, revision) that was stored, per service. A JSON summary is printed; the exit
code is 1 if anything was lost, stored twice, counted twice, answered 5xx other than 503, or hung.

Python 3.11 standard library only; `psql` is needed for PostgreSQL.

    cargo build --bin dora-events
    scripts/kill-rounds.py --bin target/debug/dora-events --rounds 20 --clients 8
    scripts/kill-rounds.py --bin target/debug/dora-events --rounds 20 --clients 8 \\
        --postgres postgres://postgres@127.0.0.1:5432/postgres
    scripts/kill-rounds.py --bin target/debug/dora-events --rounds 0 --outages 3 --clients 8 \\
        --postgres postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from datetime import datetime, timezone

GENERIC_SOURCE = "/reliability/kill-rounds"
K8S_SOURCE = "https://10.96.0.1:443"
REQUEST_TIMEOUT = 30.0  # a request unanswered for this long is counted as a hang


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The database: a fresh SQLite file or a fresh PostgreSQL database, read directly at the end.


class Database:
    def __init__(self, args: argparse.Namespace, workdir: str):
        self.created_pg = None
        self.admin = args.postgres
        if args.postgres:
            name = f"dora_reliability_{os.getpid()}_{secrets.token_hex(3)}"
            self.psql(self.admin, f"CREATE DATABASE {name}")
            self.created_pg = name
            parts = urllib.parse.urlsplit(args.postgres)
            self.url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
            self.kind = "postgres"
        else:
            url = args.database_url or f"sqlite://{workdir}/kill-rounds.db"
            if url.startswith("postgres"):
                sys.exit("for PostgreSQL pass --postgres ADMIN_URL: a fresh database is created")
            path = url.removeprefix("sqlite://")
            if os.path.exists(path):
                sys.exit(f"{path} exists: the verification needs a fresh database")
            self.url, self.path, self.kind = url, path, "sqlite"

    @staticmethod
    def psql(url: str, sql: str) -> str:
        out = subprocess.run(
            ["psql", url, "-X", "-qtA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return out.stdout

    def rows(self, sql: str) -> list[tuple[str, ...]]:
        if self.kind == "sqlite":
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
                return [tuple(str(v) for v in row) for row in conn.execute(sql)]
        return [tuple(line.split("\t")) for line in self.psql(self.url, sql).splitlines() if line]

    def outage_begin(self) -> int:
        self.psql(self.admin, f"ALTER DATABASE {self.created_pg} ALLOW_CONNECTIONS false")
        return self.terminate_backends()

    def terminate_backends(self) -> int:
        """Ends every session of the database; with a timeout, pg_terminate_backend waits (up
        to 5 s) until each backend has exited. Returns how many there were."""
        return int(self.psql(self.admin, "SELECT count(pg_terminate_backend(pid, 5000)) FROM "
                             f"pg_stat_activity WHERE datname = '{self.created_pg}' "
                             "AND pid <> pg_backend_pid()").strip() or 0)

    def outage_end(self) -> None:
        self.psql(self.admin, f"ALTER DATABASE {self.created_pg} ALLOW_CONNECTIONS true")

    def drop(self) -> None:
        if self.created_pg:
            self.psql(self.admin, f"DROP DATABASE IF EXISTS {self.created_pg} WITH (FORCE)")


# --------------------------------------------------------------------------------------------
# The server process.


class Server:
    def __init__(self, args: argparse.Namespace, db: Database, workdir: str):
        self.bin, self.db, self.workdir = args.bin, db, workdir
        self.port = free_port()
        self.ingest_token = secrets.token_urlsafe(24)
        self.read_token = secrets.token_urlsafe(24)
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.ready_times: list[float] = []

    def start(self) -> float:
        """Starts the server and waits for `GET /readyz` 200; returns the seconds that took."""
        self.starts += 1
        env = dict(os.environ)
        env.update({
            "DORA_AUTH__INGEST_TOKENS": self.ingest_token,
            "DORA_AUTH__READ_TOKENS": self.read_token,
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        })
        log = open(os.path.join(self.workdir, f"server-{self.starts:03}.log"), "wb")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [self.bin, "--database-url", self.db.url, "serve", "--listen", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()
        deadline = began + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: see {log.name}")
            if self.get("/readyz", token=None, timeout=2)[0] == 200:
                took = time.monotonic() - began
                self.ready_times.append(took)
                return took
            time.sleep(0.02)
        raise RuntimeError("server not ready within 120 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def get(self, path: str, token: str | None, timeout: float = 10) -> tuple[int | None, object]:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            try:
                return response.status, json.loads(body)
            except ValueError:
                return response.status, body
        except (OSError, http.client.HTTPException):
            return None, None


# --------------------------------------------------------------------------------------------
# The clients.


class Ledger:
    """What the clients sent and what was acknowledged; statuses counted per phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: set[tuple[str, str]] = set()
        self.rollout_of: dict[tuple[str, str], tuple[str, int]] = {}  # k8s event -> rollout
        self.unresolved: list[tuple[str, str]] = []  # ids given up on (a non-retryable answer)
        self.phase = "load"
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.max_latency: dict[str, float] = defaultdict(float)  # slowest answer per phase
        self.retry_after_values: Counter = Counter()
        self.findings: list[str] = []
        self.requests = 0
        self.retries = 0
        self.first_attempt_duplicates = 0  # unique ids answered "duplicate" at once: a finding
        self.retry_duplicates = 0  # retried events found already stored (acked before the kill)
        self.latest_202: float = 0.0
        self.first_202_after: dict[float, float] = {}  # watch mark -> first 202 at or after it

    def record(self, phase: str, label: str, latency: float) -> None:
        with self.lock:
            self.statuses[phase][label] += 1
            self.max_latency[phase] = max(self.max_latency[phase], latency)

    def watch(self, mark: float) -> None:
        with self.lock:
            self.first_202_after[mark] = 0.0

    def acknowledged(self, when: float) -> None:
        with self.lock:
            for mark, first in self.first_202_after.items():
                if not first and when >= mark:
                    self.first_202_after[mark] = when


class Client(threading.Thread):
    def __init__(self, cid: int, run: str, server: Server, ledger: Ledger, stop: threading.Event,
                 hard_stop: threading.Event, seed: int, batch_share: float, k8s_share: float):
        super().__init__(daemon=True)
        self.cid, self.run_id, self.server, self.ledger = cid, run, server, ledger
        self.stop, self.hard_stop = stop, hard_stop
        self.rng = random.Random(seed * 1000 + cid)
        self.batch_share, self.k8s_share = batch_share, k8s_share
        self.n = 0
        self.conn: http.client.HTTPConnection | None = None
        # Three Deployments per client, each with its current revision and replica count.
        self.deployments = {f"rel-{run}-c{cid}-d{j}": [0, 1] for j in range(3)}

    # Events ---------------------------------------------------------------------------------

    def generic_event(self) -> dict:
        self.n += 1
        return {
            "specversion": "1.0",
            "id": f"{self.run_id}-c{self.cid}-e{self.n}",
            "source": GENERIC_SOURCE,
            "type": "dev.reliability.ping",
            "time": now_iso(),
            "datacontenttype": "application/json",
            "data": {"client": self.cid, "n": self.n, "pad": "x" * self.rng.randint(0, 600)},
        }

    def deployment_event(self) -> dict:
        """A Deployment update: a new revision (a rollout) or a scale-only update of the current
        one (the same rollout again: must not be counted twice)."""
        self.n += 1
        name = self.rng.choice(sorted(self.deployments))
        state = self.deployments[name]
        if state[0] == 0 or self.rng.random() < 0.6:
            state[0] += 1
        else:
            state[1] = self.rng.randint(1, 9)
        revision, replicas = state
        event_id = f"{self.run_id}-c{self.cid}-k{self.n}"
        with self.ledger.lock:
            self.ledger.rollout_of[(K8S_SOURCE, event_id)] = (name, revision)
        return {
            "specversion": "1.0",
            "type": "dev.knative.apiserver.resource.update",
            "source": K8S_SOURCE,
            "subject": f"/apis/apps/v1/namespaces/default/deployments/{name}",
            "id": event_id,
            "time": now_iso(),
            "datacontenttype": "application/json",
            "kind": "Deployment",
            "name": name,
            "namespace": "default",
            "data": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": "default",
                    "uid": f"uid-{name}",
                    "generation": revision,
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                },
                "spec": {
                    "replicas": replicas,
                    "template": {"spec": {"containers": [
                        {"name": "main", "image": f"registry.example/{name}:{revision}"}]}},
                },
            },
        }

    def one_event(self) -> dict:
        return self.deployment_event() if self.rng.random() < self.k8s_share else self.generic_event()

    def next_request(self) -> tuple[str, bytes, list[tuple[str, str]]]:
        if self.rng.random() < self.batch_share:
            events = [self.one_event() for _ in range(self.rng.randint(2, 25))]
            body, ctype = events, "application/cloudevents-batch+json"
        else:
            events = [self.one_event()]
            body, ctype = events[0], "application/cloudevents+json"
        return ctype, json.dumps(body).encode(), [(e["source"], e["id"]) for e in events]

    # HTTP -----------------------------------------------------------------------------------

    def post(self, ctype: str, body: bytes) -> tuple[str, int | None, dict | None, float]:
        """One attempt: (label, status, json body, Retry-After seconds)."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                       timeout=REQUEST_TIMEOUT)
            self.conn.request("POST", "/events", body=body, headers={
                "Content-Type": ctype,
                "Authorization": f"Bearer {self.server.ingest_token}",
            })
            response = self.conn.getresponse()
            raw = response.read()
            retry_after = response.getheader("Retry-After")
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
        except TimeoutError:
            self.drop_connection()
            return "timeout", None, None, 0.0
        except ConnectionRefusedError:
            self.drop_connection()
            return "refused", None, None, 0.0
        except (OSError, http.client.HTTPException):
            self.drop_connection()
            return "connection-error", None, None, 0.0
        status = response.status
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if status == 503:
            label = "503+retry-after" if retry_after else "503-no-retry-after"
            return label, status, parsed, float(retry_after or 1)
        return str(status), status, parsed, 0.0

    def drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self) -> None:
        ledger = self.ledger
        while not self.stop.is_set():
            ctype, body, ids = self.next_request()
            attempt = 0
            while True:
                attempt += 1
                sent_at, phase = time.monotonic(), ledger.phase  # counted in the phase it was sent
                label, status, parsed, retry_after = self.post(ctype, body)
                with ledger.lock:
                    ledger.requests += 1
                    ledger.retries += attempt > 1
                    if status == 503:
                        ledger.retry_after_values[str(retry_after)] += 1
                ledger.record(phase, label, time.monotonic() - sent_at)
                if status is not None and 200 <= status < 300:
                    at = time.monotonic()
                    duplicates = int((parsed or {}).get("duplicates", 0))
                    with ledger.lock:
                        ledger.acked.update(ids)
                        ledger.latest_202 = at
                        if attempt == 1:
                            ledger.first_attempt_duplicates += duplicates
                        else:
                            ledger.retry_duplicates += duplicates
                    ledger.acknowledged(at)
                    break
                if label == "timeout":
                    with ledger.lock:
                        ledger.findings.append(f"client {self.cid}: no answer within "
                                               f"{REQUEST_TIMEOUT:.0f} s (phase {ledger.phase})")
                elif status is not None and status != 503:
                    with ledger.lock:
                        ledger.findings.append(
                            f"client {self.cid}: {status} {json.dumps(parsed)[:300]} "
                            f"(phase {ledger.phase})")
                        ledger.unresolved.extend(ids)
                    break
                if self.hard_stop.is_set():
                    with ledger.lock:
                        ledger.unresolved.extend(ids)
                    return
                # Refused / reset while the server restarts: retry soon. 503: honour
                # Retry-After, capped at one second so recovery times stay measurable.
                time.sleep(min(retry_after, 1.0) if status == 503 else 0.05)
        self.drop_connection()


# --------------------------------------------------------------------------------------------


def wait_caught_up(server: Server, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        status, state = server.get("/api/v1/pipeline", server.read_token)
        if status == 200 and state["router_lag"] == 0 and state["deployments_lag"] == 0:
            return state
        time.sleep(0.25)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the dora-events binary")
    parser.add_argument("--database-url", help="sqlite://PATH of a file that does not exist yet "
                        "(default: a temporary directory)")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="PostgreSQL server to create a fresh database on (dropped after), "
                        "e.g. postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=20, help="SIGKILL rounds")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--outages", type=int, default=0, help="database outages (PostgreSQL)")
    parser.add_argument("--outage-seconds", type=float, default=10.0)
    parser.add_argument("--up-min", type=float, default=0.5,
                        help="shortest time the server runs before a kill (s)")
    parser.add_argument("--up-max", type=float, default=4.0, help="longest (s)")
    parser.add_argument("--batch-share", type=float, default=0.25,
                        help="share of requests that are batches of 2-25 events")
    parser.add_argument("--k8s-share", type=float, default=0.25,
                        help="share of events that are Kubernetes Deployment updates")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database and the server "
                        "logs (they are also kept when a check fails)")
    args = parser.parse_args()
    if args.outages and not args.postgres:
        parser.error("--outages needs --postgres")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    run_id = secrets.token_hex(3)

    workdir = tempfile.mkdtemp(prefix="kill-rounds-")
    db = Database(args, workdir)
    server = Server(args, db, workdir)
    ledger = Ledger()
    stop, hard_stop = threading.Event(), threading.Event()
    summary: dict = {
        "store": db.kind, "binary": args.bin, "seed": seed, "clients": args.clients,
        "workdir": workdir,
    }
    failed = False
    try:
        first_ready = server.start()
        clients = [Client(i, run_id, server, ledger, stop, hard_stop, seed,
                          args.batch_share, args.k8s_share) for i in range(args.clients)]
        began = time.monotonic()
        for client in clients:
            client.start()

        restart_to_ready = []
        kill_uptimes = []
        lag_at_kill = []  # router + deployments lag read just before each kill
        for round_no in range(args.rounds):
            up = rng.uniform(args.up_min, args.up_max)
            kill_uptimes.append(up)
            time.sleep(up)
            status, state = server.get("/api/v1/pipeline", server.read_token, timeout=2)
            if status == 200:
                lag_at_kill.append(state["router_lag"] + state["deployments_lag"])
            server.kill()
            restart_to_ready.append(server.start())
            print(f"round {round_no + 1}/{args.rounds}: killed after {up:.2f} s, ready again "
                  f"in {restart_to_ready[-1]:.2f} s, {len(ledger.acked)} acknowledged so far",
                  file=sys.stderr)

        outages = []
        for outage_no in range(args.outages):
            time.sleep(5)
            _, before = server.get("/api/v1/pipeline", server.read_token)
            down_at = time.monotonic()
            terminated = db.outage_begin()  # from here on, no connection should exist
            ledger.phase = f"outage-{outage_no + 1}"
            readyz = Counter()
            stragglers = 0  # sessions found (and ended) after the first termination
            while time.monotonic() - down_at < args.outage_seconds:
                readyz[str(server.get("/readyz", None, timeout=5)[0])] += 1
                stragglers += db.terminate_backends()
                time.sleep(0.5)
            db.outage_end()
            up_at = time.monotonic()
            ledger.phase = f"after-outage-{outage_no + 1}"
            ledger.watch(up_at)
            deadline = up_at + 120
            while not ledger.first_202_after[up_at] and time.monotonic() < deadline:
                time.sleep(0.05)
            first = ledger.first_202_after[up_at]
            ready_again = None
            while time.monotonic() < deadline:
                if server.get("/readyz", None, timeout=5)[0] == 200:
                    ready_again = time.monotonic() - up_at
                    break
                time.sleep(0.1)
            # The stages resumed: both cursors moved past where they were when the database went.
            resumed = None
            while time.monotonic() < deadline:
                status, state = server.get("/api/v1/pipeline", server.read_token, timeout=5)
                if status == 200 and all(state[c] > before[c] for c in
                                         ("router_cursor", "deployments_cursor")):
                    resumed = time.monotonic() - up_at
                    break
                time.sleep(0.1)
            time.sleep(5)
            outages.append({
                "seconds_down": round(up_at - down_at, 2),
                "sessions_terminated": terminated,
                "sessions_terminated_later": stragglers,
                "clients_saw_during": dict(ledger.statuses[f"outage-{outage_no + 1}"]),
                "clients_saw_after": dict(ledger.statuses[f"after-outage-{outage_no + 1}"]),
                "slowest_answer_during_s": round(ledger.max_latency[f"outage-{outage_no + 1}"], 3),
                "readyz_during": dict(readyz),
                "first_202_after_db_back_s": round(first - up_at, 3) if first else None,
                "readyz_200_after_db_back_s": round(ready_again, 3) if ready_again else None,
                "pipeline_resumed_after_db_back_s": round(resumed, 3) if resumed else None,
                "server_alive": server.proc.poll() is None,
            })
            print(f"outage {outage_no + 1}/{args.outages}: {outages[-1]}", file=sys.stderr)
            ledger.phase = "load"

        if not args.outages:
            time.sleep(rng.uniform(args.up_min, args.up_max))  # some load on the last start
        stop.set()
        for client in clients:
            client.join(timeout=90)
        hard_stop.set()
        for client in clients:
            client.join(timeout=40)
        load_seconds = time.monotonic() - began
        hung_clients = sum(client.is_alive() for client in clients)

        state = wait_caught_up(server, timeout=180)
        stored_rows = db.rows("SELECT event_source, event_id FROM cloudevents_raw")
        stored = Counter(stored_rows)
        deployments_rows = db.rows("SELECT service, count(*) FROM deployments GROUP BY service")
        exit_code = server.stop()

        # Every acknowledged event stored exactly once, nothing stored that was never sent.
        lost = [key for key in ledger.acked if key not in stored]
        twice = {key: n for key, n in stored.items() if n > 1}
        sent = set(ledger.acked) | set(ledger.unresolved)
        unknown = [key for key in stored if key not in sent]
        # Deployments: one per distinct (Deployment, revision) among the stored events.
        expected = Counter(name for name, _rev in
                           {ledger.rollout_of[key] for key in stored if key in ledger.rollout_of})
        counted = Counter({service: int(n) for service, n in deployments_rows})
        deployment_mismatch = {
            service: {"expected": expected.get(service, 0), "counted": counted.get(service, 0)}
            for service in set(expected) | set(counted)
            if expected.get(service, 0) != counted.get(service, 0)
        }
        five_xx = {phase: {k: v for k, v in c.items() if k.startswith("5") and
                           not k.startswith("503+")} for phase, c in ledger.statuses.items()}
        five_xx = {phase: c for phase, c in five_xx.items() if c}
        log_text = ""
        for name in sorted(os.listdir(workdir)):
            if name.endswith(".log"):
                with open(os.path.join(workdir, name), errors="replace") as f:
                    log_text += re.sub(r"\x1b\[[0-9;]*m", "", f.read())
        panics = log_text.count("panicked")
        log_errors = sum(" ERROR " in line for line in log_text.splitlines())
        # The longest pause a stage announced after a failed pass ("retry_in=12.8s").
        pauses = [float(v) / (1000 if unit == "ms" else 1)
                  for v, unit in re.findall(r"retry_in=([0-9.]+)(ms|s)\b", log_text)]

        total = Counter()
        for counts in ledger.statuses.values():
            total.update(counts)
        summary.update({
            "rounds": args.rounds,
            "outages": outages if args.outages else None,
            "load_seconds": round(load_seconds, 1),
            "requests": ledger.requests,
            "retried_requests": ledger.retries,
            "statuses": dict(total),
            "retry_after_values": dict(ledger.retry_after_values),
            "slowest_answer_s": round(max(ledger.max_latency.values(), default=0), 3),
            "acknowledged": len(ledger.acked),
            "stored": sum(stored.values()),
            "lost": len(lost),
            "duplicates_stored": sum(n - 1 for n in twice.values()),
            "stored_never_sent": len(unknown),
            "unresolved_requests_ids": len(ledger.unresolved),
            "retries_found_already_stored": ledger.retry_duplicates,
            "unexpected_duplicates_on_first_try": ledger.first_attempt_duplicates,
            "rollouts_stored": sum(expected.values()),
            "deployments_counted": sum(counted.values()),
            "deployment_mismatches": deployment_mismatch,
            "pipeline_caught_up": state is not None,
            "pipeline": {k: state[k] for k in ("raw_events", "cdevents", "deployments",
                                               "failures", "router_lag", "deployments_lag")}
            if state else None,
            "first_ready_s": round(first_ready, 3),
            "max_restart_to_ready_s": round(max(restart_to_ready), 3) if restart_to_ready else None,
            "mean_restart_to_ready_s": round(sum(restart_to_ready) / len(restart_to_ready), 3)
            if restart_to_ready else None,
            "kill_after_s": [round(u, 2) for u in kill_uptimes],
            "pipeline_lag_just_before_kills": lag_at_kill,
            "events_per_second": round(len(ledger.acked) / load_seconds, 1),
            "unexpected_5xx": five_xx,
            "hung_clients": hung_clients,
            "findings": ledger.findings[:50],
            "server_log_panics": panics,
            "server_log_error_lines": log_errors,
            "longest_stage_retry_pause_s": max(pauses, default=None),
            "final_sigterm_exit_code": exit_code,
        })
        failed = bool(lost or twice or unknown or deployment_mismatch or five_xx or hung_clients
                      or ledger.findings or state is None or ledger.first_attempt_duplicates
                      or panics or (state and state["deployments"] != sum(counted.values())))
        if lost:
            summary["lost_sample"] = [list(key) for key in lost[:20]]
        summary["ok"] = not failed
    finally:
        stop.set()
        hard_stop.set()
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
        # Kept for a look when a check failed, or with --keep.
        if not args.keep and not failed and summary.get("ok"):
            db.drop()
            shutil.rmtree(workdir, ignore_errors=True)
            summary["workdir"] = None
        else:
            summary["database_url"] = db.url
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
