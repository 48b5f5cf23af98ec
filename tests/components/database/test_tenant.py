"""DatabaseTenant and DatabaseAdminNamespace on their own under the recording monitor: the tenant's secret, the job
that owns the master credential, its rotation, and the credentials synced into the tenant's namespace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_platform.components.database.tenant import (
    JOB_SCRIPT_KEY,
    JOB_SCRIPT_SOURCE,
    DatabaseAdminNamespace,
    DatabaseAdminNamespaceArgs,
    DatabaseTenant,
    DatabaseTenantArgs,
    check_identifier,
    job_command,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph

REGION = "eu-west-1"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
MASTER = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-abcdef"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"
DB_CIDRS = ["10.10.160.0/22", "10.10.164.0/22"]


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "tenant": "pipelines",
        "database": "workflows",
        "role": "pipelines",
        "namespace": "pipelines",
        "admin_namespace": "db-admin",
        "db_host": "db.internal",
        "db_port": 5432,
        "master_secret_arn": MASTER,
        "master_secret_key_arn": KEY,
        "secret_name": "mlops/database/pipelines",
        "secret_key_arn": KEY,
        "oidc_provider_arn": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}",
        "oidc_issuer_url": f"https://{ISSUER}",
        "region": REGION,
        "image": "img:1",
        "ca_bundle_path": "/opt/ca.pem",
        "secret_store": "aws-secrets-manager",
        "k8s_secret_name": "pipelines-db",
        "service_file_key": "pg_service.conf",
        "service_file_template": "[pipelines]\nuser={{ .username }}\npassword={{ .password }}\n",
        "run_as_user": 10001,
    }
    args.update(overrides)

    def program() -> None:
        admin = DatabaseAdminNamespace(
            "admin",
            DatabaseAdminNamespaceArgs(
                name="db-admin", database_cidrs=DB_CIDRS, https_cidrs=["10.10.0.0/16"]
            ),
        )
        DatabaseTenant("t", DatabaseTenantArgs(**{"admin_depends_on": [admin], **args}))

    return run_callable(program, config={"aws:region": REGION})


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def test_every_object_is_a_child_of_its_component(graph: Graph) -> None:
    (tenant,) = graph.of_type("mlops:database:DatabaseTenant")
    (admin,) = graph.of_type("mlops:database:DatabaseAdminNamespace")
    kinds = {r.type for r in graph.resources if r.parent == tenant.urn}
    assert kinds == {
        "aws:secretsmanager/secret:Secret",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:batch/v1:Job",
        "kubernetes:batch/v1:CronJob",
        "kubernetes:external-secrets.io/v1:ExternalSecret",
    }
    assert {r.type for r in graph.resources if r.parent == admin.urn} == {
        "kubernetes:core/v1:Namespace",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }


def test_the_secret_has_no_value_and_the_tenants_key(graph: Graph) -> None:
    secret = graph.one("aws:secretsmanager/secret:Secret", "t-secret")
    assert secret.inputs["name"] == "mlops/database/pipelines"
    assert secret.inputs["kmsKeyId"] == KEY and secret.inputs["recoveryWindowInDays"] == 30
    assert not graph.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_the_job_role_trusts_only_the_admin_namespaces_job_account(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "t-job")
    (stmt,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert stmt["Condition"]["StringEquals"] == {
        f"{ISSUER}:sub": "system:serviceaccount:db-admin:pipelines-db-tenant",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    doc = json.loads(graph.one("aws:iam/rolePolicy:RolePolicy", "t-job").inputs["policy"])
    assert {s["Sid"] for s in doc["Statement"]} == {"ReadMasterSecret", "WriteTenantSecret", "SecretKeys"}


def test_the_job_runs_the_program_from_its_configmap_after_the_admin_namespace(graph: Graph) -> None:
    cm = graph.one("kubernetes:core/v1:ConfigMap", "t-script")
    assert cm.inputs["data"] == {JOB_SCRIPT_KEY: JOB_SCRIPT_SOURCE.read_text()} and cm.inputs["immutable"]
    assert cm.inputs["metadata"]["name"].startswith("pipelines-db-tenant-")
    job = graph.one("kubernetes:batch/v1:Job", "t-ensure")
    pod = job.inputs["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == job_command("ensure")
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert (env["TENANT_DATABASE"], env["TENANT_ROLE"], env["PGSSLROOTCERT"]) == (
        "workflows",
        "pipelines",
        "/opt/ca.pem",
    )
    assert pod["volumes"][0]["configMap"]["name"] == cm.inputs["metadata"]["name"]
    # Waiting for the admin component is waiting for its children: the namespace first of all.
    namespace = graph.one("kubernetes:core/v1:Namespace", "admin")
    sa = graph.one("kubernetes:core/v1:ServiceAccount", "t-job")
    assert {namespace.urn, sa.urn, cm.urn} <= set(job.dependencies)
    assert job.inputs["spec"]["backoffLimit"] == 6


def test_rotation_runs_the_same_pod_in_rotate_mode_after_the_job(graph: Graph) -> None:
    cron = graph.one("kubernetes:batch/v1:CronJob", "t-rotate")
    job = graph.one("kubernetes:batch/v1:Job", "t-ensure")
    cron_pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    job_pod = job.inputs["spec"]["template"]["spec"]
    assert cron_pod["containers"][0]["command"] == job_command("rotate")
    assert {k: v for k, v in cron_pod["containers"][0].items() if k != "command"} == {
        k: v for k, v in job_pod["containers"][0].items() if k != "command"
    }
    assert (cron.inputs["spec"]["schedule"], cron.inputs["spec"]["timeZone"]) == ("17 3 1 * *", "Etc/UTC")
    assert job.urn in cron.dependencies


def test_credentials_are_synced_after_the_job_into_the_tenants_namespace(graph: Graph) -> None:
    es = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "t-credentials")
    assert es.inputs["metadata"]["namespace"] == "pipelines"
    secret = graph.one("aws:secretsmanager/secret:Secret", "t-secret")
    assert [d["remoteRef"] for d in es.inputs["spec"]["data"]] == [
        {"key": secret.outputs["arn"], "property": "username"},
        {"key": secret.outputs["arn"], "property": "password"},
    ]
    assert graph.one("kubernetes:batch/v1:Job", "t-ensure").urn in es.dependencies


def test_the_admin_namespace_is_restricted_default_deny_with_narrow_egress(graph: Graph) -> None:
    ns = graph.one("kubernetes:core/v1:Namespace", "admin")
    assert ns.inputs["metadata"]["labels"] == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    deny = graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "admin-default-deny").inputs["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "admin-egress").inputs["spec"][
        "egress"
    ]
    assert [[p["port"] for p in r["ports"]] for r in egress] == [[53, 53], [5432], [443]]
    assert [b["ipBlock"]["cidr"] for b in egress[1]["to"]] == DB_CIDRS
    assert egress[2]["to"] == [{"ipBlock": {"cidr": "10.10.0.0/16"}}]


def test_identifiers_postgres_would_quote_are_refused() -> None:
    assert check_identifier("t", "role", "pipelines_2") == "pipelines_2"
    with pytest.raises(ValueError, match="DatabaseTenant t: role 'Pipelines-Admin' must match"):
        check_identifier("t", "role", "Pipelines-Admin")
    with pytest.raises(ValueError, match="must match"):
        render(role="1pipelines")


@pytest.mark.parametrize("days", [6, 31])
def test_a_recovery_window_outside_seven_to_thirty_days_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="recovery_window_days"):
        render(recovery_window_days=days)


def test_an_admin_namespace_without_database_cidrs_is_refused() -> None:
    with pytest.raises(ValueError, match="database subnets"):
        run_callable(
            lambda: DatabaseAdminNamespace(
                "admin",
                DatabaseAdminNamespaceArgs(name="db-admin", database_cidrs=[], https_cidrs=["10.0.0.0/16"]),
            ),
            config={"aws:region": REGION},
        )
