#!/usr/bin/env bash
# Seeds the fuzz corpora from the project's fixtures: fuzz/corpus/<target>/, one file per seed,
# named by its SHA-1 (as libFuzzer names what it adds). Safe to run again: it only adds files.
# The corpora are generated and not committed; fuzz/seeds/<target>/ holds the few hand-made
# seeds that are, and are copied in too. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
exec python3 - "$@" <<'PY'
import glob, hashlib, json, os, re, shutil, tomllib

ROOT = os.path.abspath("..")
CORPUS = "corpus"
counts = {}


def add(target, content):
    if isinstance(content, str):
        content = content.encode()
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha1(content).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(content)
        counts[target] = counts.get(target, 0) + 1


def request(headers, body):
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    return head.encode() + b"\n" + (body if isinstance(body, bytes) else body.encode())


def load(path):
    with open(path, "rb") as f:
        return f.read()


def fixtures(pattern):
    return sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True))


# CloudEvents in structured JSON: the transformers' golden inputs and the tutorial's events.
cloudevents = []
for path in fixtures("tests/fixtures/**/input.json") + fixtures("examples/**/*.json"):
    raw = load(path)
    try:
        value = json.loads(raw)
    except ValueError:
        continue
    if isinstance(value, dict) and value.get("specversion") == "1.0":
        cloudevents.append((path, raw, value))


def binary_mode(value):
    """The binary-mode request of a structured event: ce- headers, Content-Type and the data."""
    headers = []
    for name, attribute in value.items():
        if name in ("data", "data_base64", "datacontenttype"):
            continue
        text = attribute if isinstance(attribute, str) else json.dumps(attribute)
        encoded = "".join(c if 0x20 < ord(c) < 0x7F and c not in '%"' else
                          "".join(f"%{b:02X}" for b in c.encode()) for c in text)
        headers.append((f"ce-{name}", encoded))
    headers.append(("content-type", value.get("datacontenttype", "application/json")))
    if "data" in value:
        data = value["data"]
        body = data if isinstance(data, str) else json.dumps(data)
    else:
        body = ""
    return request(headers, body)


for path, raw, value in cloudevents:
    add("transformers", raw)
    add("binding", request([("content-type", "application/cloudevents+json")], raw))
    add("binding", binary_mode(value))
    add("batch", b"[" + raw + b"]")

# Batches: every tool's events together, and the tutorial's.
by_dir = {}
for path, raw, _ in cloudevents:
    key = os.path.relpath(path, ROOT).split(os.sep)[:2]
    by_dir.setdefault(tuple(key), []).append(raw)
for raws in by_dir.values():
    batch = b"[" + b",".join(raws[:20]) + b"]"
    add("batch", batch)
    add("binding", request([("content-type", "application/cloudevents-batch+json")], batch))

# CDEvents: the spec's conformance examples (every release) and what the transformers emit.
for path in fixtures("tests/fixtures/cdevents-spec/**/*.json"):
    add("cdevent", load(path))
for path in fixtures("tests/fixtures/**/expected.json"):
    try:
        documents = json.loads(load(path))
    except ValueError:
        continue
    for document in documents if isinstance(documents, list) else []:
        add("cdevent", json.dumps(document, indent=1))
# A CDEvent posted to /cdevents as a CloudEvent, in structured mode.
for path in fixtures("tests/fixtures/cdevents-spec/v0.5.1/conformance/*.json")[:10]:
    document = json.loads(load(path))
    context = document.get("context", {})
    event = {"specversion": "1.0", "id": context.get("id", "1"), "source": context.get("source", "/s"),
             "type": context.get("type", "t"), "datacontenttype": "application/json", "data": document}
    add("binding", request([("content-type", "application/cloudevents+json")], json.dumps(event)))
    add("transformers", json.dumps(event))


# Webhooks: the first line names the tool (and `signed` / `secret`, see fuzz_targets/webhooks.rs).
def webhook(tool, headers, body):
    headers = [("content-type", "application/json")] + headers
    for mode in ("", " signed", " secret"):
        add("webhooks", tool.encode() + mode.encode() + b"\n" + request(headers, body))


for tool in ("argocd", "alertmanager", "pagerduty"):
    for path in fixtures(f"tests/fixtures/{tool}/payloads/*.json"):
        webhook(tool, [], load(path))
for path, raw, value in cloudevents:
    relative = os.path.relpath(path, ROOT)
    data = value.get("data")
    if not isinstance(data, dict):
        continue
    if relative.startswith("tests/fixtures/github/"):
        event = value["type"].rsplit(".", 1)[-1]
        webhook("github", [("x-github-event", event), ("x-github-delivery", value["id"])],
                json.dumps(data))
    elif relative.startswith("tests/fixtures/gitlab/"):
        headers_file = os.path.join(os.path.dirname(path), "headers.json")
        headers = json.loads(load(headers_file)) if os.path.exists(headers_file) else {
            "X-Gitlab-Event": value.get("comgitlabevent", "Push Hook")}
        webhook("gitlab", list(headers.items()), json.dumps(data))
for path in fixtures("tests/fixtures/gitlab/*.json") + fixtures("tests/fixtures/gitlab/*.jsonc"):
    if "registry" not in path:
        webhook("gitlab", [("X-Gitlab-Event", "Merge Request Hook")], load(path))
# Raw payloads of the sources whose golden inputs are the tool's own body (Bitbucket's event key
# is beside it, in `event-key`).
for tool in ("flux", "opsgenie", "jira", "bitbucket"):
    for path in fixtures(f"tests/fixtures/{tool}/*/input.json"):
        key_file = os.path.join(os.path.dirname(path), "event-key")
        headers = [("X-Event-Key", load(key_file).decode().strip())] \
            if os.path.exists(key_file) else []
        webhook(tool, headers, load(path))

# Rules: the match and emit expressions of every [[rules]] entry in the fixtures and the docs.
texts = [load(p).decode() for p in fixtures("tests/fixtures/**/*.toml")]
for path in [os.path.join(ROOT, "dora-events.example.toml"), os.path.join(ROOT, "README.md")] + \
        fixtures("docs/**/*.md") + fixtures("tests/fixtures/**/README.md"):
    text = load(path).decode()
    if path.endswith(".toml"):
        text = re.sub(r"^# ?", "", text, flags=re.M)
    texts += re.findall(r"```toml\n(.*?)```", text, flags=re.S) if path.endswith(".md") else [text]
for text in texts:
    for block in re.findall(r"\[\[rules\]\].*?(?=\n\[|\Z)", text, flags=re.S):
        try:
            rule = tomllib.loads(block.replace("[[rules]]", "", 1))
        except tomllib.TOMLDecodeError:
            continue
        if "emit" in rule:
            add("rules_compile", rule["emit"])
            if "match" in rule:
                add("rules_compile", rule["match"])
                add("rules_compile", rule["match"] + "\n---\n" + rule["emit"])

# Hand-made seeds, committed in fuzz/seeds/<target>/.
for directory in sorted(glob.glob("seeds/*/")):
    target = os.path.basename(os.path.dirname(directory))
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        add(target, load(path))

for target in sorted(os.listdir(CORPUS)):
    total = len(os.listdir(os.path.join(CORPUS, target)))
    print(f"{target}: {counts.get(target, 0)} new seeds, {total} in corpus/{target}")
PY
