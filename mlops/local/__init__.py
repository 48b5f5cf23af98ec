"""The platform's MLflow trio on one machine: PostgreSQL with TLS, an S3 server (moto), and the MLflow server.

Used by ``mlops local`` (:func:`run`) and by the end-to-end tests (tests/e2e, with the helpers of
tests/support/local_kit.py): both start exactly what is here. The MLflow server runs with the command,
arguments and environment of :func:`mlops_platform.components.mlflow.server.server_spec`, the very ones the Kubernetes
Deployment runs; what a pod gets from its cluster is stood in for locally and nothing else is changed
(:func:`~mlops_platform.mlops.local.materialize.materialize`):

* hosts and ports: ``--host 0.0.0.0 --port 5000`` become loopback and a free port; the database is a local
  PostgreSQL (:mod:`~mlops_platform.mlops.local.postgres`) with ``ssl = on``, a server certificate for 127.0.0.1 from a CA made
  for the run (:mod:`~mlops_platform.mlops.local.tls`), and a ``pg_hba.conf`` that admits password logins over ``hostssl``
  only, so the URI's ``sslmode=verify-full`` is exercised unchanged (``PGSSLROOTCERT``, the image's RDS CA
  bundle, points at that CA instead);
* the database tenant (:mod:`~mlops_platform.mlops.local.tenant`): the master user is a ``CREATEDB CREATEROLE`` role (like
  RDS's, not a superuser) whose secret is in Secrets Manager (moto); the tenant job's own command creates the
  MLflow role and hands it the database, and writes its generated password to the tenant secret, which stands
  in for what External Secrets syncs; then the migration Job's commands
  (:func:`~mlops_platform.mlops.local.mlflow.run_migration`) run before the server;
* Secrets: ``secret_env`` is resolved from local stand-ins of the two Kubernetes Secrets (the database user
  and password, the basic-auth ini and the Flask key); the database password is random and full of
  URL-special characters on purpose;
* volumes: the auth ini's mount and the Prometheus directory (an emptyDir in the pod) become temporary
  directories;
* workload identity: S3 is a moto server on loopback (:mod:`~mlops_platform.mlops.local.s3`), reached through
  ``MLFLOW_S3_ENDPOINT_URL`` and fake keys. These three variables exist only here: with real S3 and workload
  identity they must stay unset.

The reference pipeline's local run (``mlops pipeline run --local``, :mod:`~mlops_platform.mlops.local.pipeline`)
runs the rendered WorkflowTemplate's steps as processes against this trio, the same way.

Every process is started in its own session and stopped by its id (SIGTERM, then SIGKILL of its process
group, :class:`~mlops_platform.mlops.local.processes.Process`); every temporary directory is removed, also when start-up
fails half way (:func:`local_platform`).
"""

from __future__ import annotations

from mlops_platform.mlops.local.command import run
from mlops_platform.mlops.local.materialize import materialize
from mlops_platform.mlops.local.mlflow import MlflowServer, start_mlflow
from mlops_platform.mlops.local.platform import LocalPlatform, local_platform
from mlops_platform.mlops.local.postgres import PostgresServer, start_postgres
from mlops_platform.mlops.local.processes import LocalPlatformError
from mlops_platform.mlops.local.s3 import S3Server, start_s3

__all__ = [
    "LocalPlatform",
    "LocalPlatformError",
    "MlflowServer",
    "PostgresServer",
    "S3Server",
    "local_platform",
    "materialize",
    "run",
    "start_mlflow",
    "start_postgres",
    "start_s3",
]
