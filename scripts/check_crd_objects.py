#!/usr/bin/env python3
"""Validate custom resources in rendered manifests against vendored CRD schemas.

kubernetes-validate knows the built-in kinds only; Knative Services, ApiServerSources,
GitHubSources and GitLabSources are checked here against the OpenAPI v3 schema of their
CustomResourceDefinition (deploy/schemas/, see its README.md), the way an API server with strict
field validation (kubectl's default) would see them:

* the schema's keywords (type, properties, required, items, enum, pattern, anyOf, oneOf, ...);
* unknown fields are errors, except under x-kubernetes-preserve-unknown-fields;
* x-kubernetes-int-or-string and nullable are honoured;
* metadata is an ObjectMeta: a DNS-1123 name, string labels and annotations, valid label values.

Usage: check_crd_objects.py --schemas DIR [--kubernetes-validate-log FILE] MANIFEST...

With --kubernetes-validate-log, every "Couldn't find schema for kind K with api version V" line
of that log must name a kind checked here: no rendered object goes unvalidated. Exits 1 on any
invalid object or uncovered kind.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jsonschema
import yaml

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": DNS1123_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": DNS1123_LABEL},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE},
        },
        "annotations": STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
    },
}

# OpenAPI keywords that carry no constraint a client-side check can apply.
IGNORED = {"description", "default", "example", "format", "nullable", "externalDocs"}


def to_json_schema(node):
    """Translate one structural OpenAPI v3 schema node into JSON Schema."""
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in IGNORED or key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    is_object = node.get("type") == "object" or "properties" in node
    if is_object and not preserve and "additionalProperties" not in node:
        # Strict field validation: a field the schema does not declare is an error.
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def load_crds(directory: Path):
    """(apiVersion, kind) -> (JSON schema, CRD file) for every served version of every CRD."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            if "versions" in spec and any("schema" in v for v in spec["versions"]):
                versions = [
                    (v["name"], v["schema"]["openAPIV3Schema"])
                    for v in spec["versions"]
                    if v.get("served", True)
                ]
            else:  # apiextensions.k8s.io/v1beta1: one schema for every version
                names = [v["name"] for v in spec.get("versions", [])] or [spec["version"]]
                versions = [(name, spec["validation"]["openAPIV3Schema"]) for name in names]
            for version, openapi in versions:
                api_version = f"{group}/{version}"
                schema = to_json_schema(openapi)
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"const": api_version}
                props["kind"] = {"const": kind}
                props["metadata"] = OBJECT_META
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                jsonschema.Draft7Validator.check_schema(schema)
                schemas[(api_version, kind)] = (schema, path.name)
    return schemas


def where(error) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path or "(root)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=Path, required=True)
    parser.add_argument("--kubernetes-validate-log", type=Path)
    parser.add_argument("manifests", nargs="+", type=Path)
    args = parser.parse_args()

    schemas = load_crds(args.schemas)
    if not schemas:
        print(f"no CRD schema found in {args.schemas}", file=sys.stderr)
        return 1
    failures = 0
    checked = {}
    for manifest in args.manifests:
        for doc in yaml.safe_load_all(manifest.read_text()):
            if not isinstance(doc, dict):
                continue
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in schemas:
                continue
            schema, crd_file = schemas[key]
            name = (doc.get("metadata") or {}).get("name", "?")
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
            for error in errors:
                print(f"INVALID {manifest}: {key[1]} {name} at {where(error)}: {error.message} (schema {crd_file})")
            failures += bool(errors)
            checked[key] = checked.get(key, 0) + 1

    if args.kubernetes_validate_log:
        pattern = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")
        uncovered = set()
        for line in args.kubernetes_validate_log.read_text().splitlines():
            match = pattern.search(line)
            if match and (match.group(2), match.group(1)) not in schemas:
                uncovered.add((match.group(2), match.group(1)))
        for api_version, kind in sorted(uncovered):
            print(f"UNVALIDATED {api_version} {kind}: neither kubernetes-validate nor deploy/schemas has its schema")
        failures += len(uncovered)

    for (api_version, kind), count in sorted(checked.items()):
        print(f"checked {count} {api_version} {kind} against {schemas[(api_version, kind)][1]}")
    if failures:
        print(f"{failures} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
