# Generates a DORA history as bare CDEvents for the five-keys benchmark (BENCHMARKS.md):
#   python3 scripts/dora-history.py DEPLOYMENTS CHANGES_PER_DEPLOYMENT OUT.jsonl \
#       [--services N] [--listed] [--incident-every N] [--year YYYY]
# One JSON array of up to 1000 CDEvents per line, to POST to /cdevents.
#
# --listed: each deployment lists its CHANGES_PER_DEPLOYMENT commits (customData.dora.commits,
# with timestamps) instead of separate change.merged events (each commit is then a change of
# its own): the shape of the incremental engine's benchmark (issue 13: 150,000 deployments of
# 40 services, 4 commits each, an incident every 50 deployments).
#
# One year (2023) of production deployments of 50 services, evenly spaced. Each deployment ships
# CHANGES_PER_DEPLOYMENT merged changes (their merge SHA is the deployed revision; each has one
# commit with a timestamp 30 minutes to 10 hours earlier). Every 97th deployment is a rollback,
# every 89th a failed rollout, and every 53rd (--incident-every) is followed five minutes later by
# an incident on its service, resolved 90 minutes after that (every fifth of them is never
# resolved).
import datetime
import json
import sys

deployments, changes_per_deploy = int(sys.argv[1]), int(sys.argv[2])
out = open(sys.argv[3], "w")
options = sys.argv[4:]


def option(name, default):
    return int(options[options.index(name) + 1]) if name in options else default


listed = "--listed" in options
service_count = option("--services", 50)
incident_every = option("--incident-every", 53)
year = option("--year", 2023)
batch = []


def emit(event):
    batch.append(event)
    if len(batch) == 1000:
        out.write(json.dumps(batch, separators=(",", ":")) + "\n")
        batch.clear()


start = int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
services = [f"svc-{i}" for i in range(service_count)]


def ts(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def context(event_id, kind, t):
    return {"specversion": "0.5.1", "id": event_id, "source": "/bench", "type": kind, "timestamp": ts(t)}


for d in range(deployments):
    t = start + d * (365 * 86400) // deployments
    svc = services[d % len(services)]
    sha = f"{d:040x}"
    commits = []
    for c in range(changes_per_deploy):
        committed = t - 1800 - (97 * c + d % 600) * 60
        if listed:
            commits.append({"sha": f"{d:032x}{c:08x}", "timestamp": ts(committed)})
            continue
        emit({"context": context(f"c-{d}-{c}", "dev.cdevents.change.merged.0.3.0", t - 600),
              "subject": {"id": f"{svc}#{d}-{c}", "source": "/bench", "content": {"repository": {"id": svc}}},
              "customData": {"dora": {"mergeSha": sha, "createdAt": ts(committed),
                                      "commits": [{"sha": f"{d:032x}{c:08x}", "timestamp": ts(committed)}]}}})
    kind = "rolledback" if d % 97 == 0 else "deployed"
    deployment = {"context": context(f"d-{d}", f"dev.cdevents.service.{kind}.0.3.0", t),
                  "subject": {"id": svc, "source": "/bench",
                              "content": {"environment": {"id": "production"}, "artifactId": f"pkg:oci/{svc}@{d}"}},
                  "customData": {"dora": {"revision": sha}}}
    if d % 89 == 0:
        deployment["customData"]["dora"]["outcome"] = "failure"
    if commits:
        deployment["customData"]["dora"]["commits"] = commits
    emit(deployment)
    if d % incident_every == 0:
        subject = {"id": f"incident-{d}", "source": "/bench",
                   "content": {"environment": {"id": "production"}, "service": {"id": svc}}}
        emit({"context": context(f"i-{d}", "dev.cdevents.incident.detected.0.3.0", t + 300), "subject": subject})
        # Every fifth incident is never resolved.
        if (d // incident_every) % 5 != 0:
            emit({"context": context(f"r-{d}", "dev.cdevents.incident.resolved.0.3.0", t + 5700), "subject": subject})
if batch:
    out.write(json.dumps(batch, separators=(",", ":")) + "\n")
