# Generates a DORA history as bare CDEvents for the facts benchmark (BENCHMARKS.md):
#   python3 scripts/dora-history.py DEPLOYMENTS CHANGES_PER_DEPLOYMENT OUT.jsonl
# One JSON array of up to 1000 CDEvents per line, to POST to /cdevents.
import json, sys, random
random.seed(7)
deployments, changes_per_deploy = int(sys.argv[1]), int(sys.argv[2])
out = open(sys.argv[3], 'w')
batch = []
def emit(e):
    batch.append(e)
    if len(batch) == 1000:
        out.write(json.dumps(batch) + "\n"); batch.clear()
start = 1672531200  # 2023-01-01
services = [f"svc-{i}" for i in range(50)]
def ts(t): 
    import datetime
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")
for d in range(deployments):
    t = start + d * (365 * 86400 // deployments)
    svc = services[d % len(services)]
    sha = f"{d:040x}"
    for c in range(changes_per_deploy):
        cid = f"{svc}#{d}-{c}"
        emit({"context": {"specversion": "0.5.1", "id": f"c-{d}-{c}", "source": "/bench", "type": "dev.cdevents.change.merged.0.3.0", "timestamp": ts(t - 3600)},
              "subject": {"id": cid, "source": "/bench", "content": {"repository": {"id": svc}}},
              "customData": {"dora": {"mergeSha": sha if c == 0 else f"{d:032x}{c:08x}", "createdAt": ts(t - 7200 - c * 60), "commits": [{"sha": f"{d:032x}{c:08x}", "timestamp": ts(t - 7200 - c * 60)}]}}})
    emit({"context": {"specversion": "0.5.1", "id": f"d-{d}", "source": "/bench", "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": ts(t)},
          "subject": {"id": svc, "source": "/bench", "content": {"environment": {"id": "production"}, "artifactId": f"pkg:oci/{svc}@{d}"}},
          "customData": {"dora": {"revision": sha}}})
if batch: out.write(json.dumps(batch) + "\n")
