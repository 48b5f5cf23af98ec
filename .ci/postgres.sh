#!/usr/bin/env bash
# The MLflow end-to-end tests (tests/e2e) start a real PostgreSQL server from its binaries
# (mlops/local/postgres.py finds /usr/lib/postgresql/*/bin). A fresh machine may have only the client:
# install the server package from Debian, without creating or starting a cluster of its own.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "postgres.sh: PostgreSQL server binaries are missing; install them (Debian: apt-get install postgresql)" >&2
  exit 0  # the e2e tests then fail with the same hint
fi
mkdir -p /etc/postgresql-common
[ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold postgresql >/dev/null
