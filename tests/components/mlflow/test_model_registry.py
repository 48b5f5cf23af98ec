"""ModelRegistry under the recording monitor: identity, secrets, the server's wiring, pod hardening."""

from __future__ import annotations

import configparser
import json
from typing import Any

import pulumi
import pytest
from compute_support import REGION, policy, render_platform

from mlops_platform.components.cluster.external_secrets import install_external_secrets
from mlops_platform.components.mlflow.model_registry import (
    AUTH_SECRET,
    DB_SECRET,
    ModelRegistry,
    ModelRegistryArgs,
)
from mlops_platform.components.mlflow.server import (
    IMAGE_UID,
    RDS_CA_BUNDLE_PATH,
    migration_spec,
    server_spec,
    service_hosts,
)
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.graph import Graph, Resource

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
BUCKET = "mlops-test-artifacts"
DATA_KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123-abcdef"
DB_HOST = "mlops-test.cabc.eu-west-1.rds.amazonaws.com"
DB_CIDRS = ["10.10.160.0/22", "10.10.164.0/22"]
VPC_CIDR = "10.10.0.0/16"


def render(**overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "oidc_provider_arn": OIDC_ARN,
        "oidc_issuer_url": f"https://{ISSUER}",
        "artifact_bucket_name": BUCKET,
        "artifact_bucket_arn": f"arn:aws:s3:::{BUCKET}",
        "artifact_key_arn": DATA_KEY,
        "db_host": DB_HOST,
        "db_port": 5432,
        "db_name": "mlflow",
        "db_master_secret_arn": SECRET_ARN,
        "db_secret_key_arn": DATA_KEY,
        "database_cidrs": DB_CIDRS,
        "vpc_cidr": VPC_CIDR,
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-test/mlflow:3.6.0-platform.1",
        "region": REGION,
        "replicas": 2,
    }
    args.update(overrides)

    def program() -> None:
        # The operator is the cluster's add-on; MLflow's secrets wait for its release.
        operator = install_external_secrets("eso", vpc_cidr=VPC_CIDR, opts=pulumi.ResourceOptions())
        ModelRegistry("mr", ModelRegistryArgs(**{"external_secrets": operator.release, **args}))

    return run_callable(program, config={"aws:region": REGION})


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render()


def deployment(g: Graph) -> Resource:
    return g.one("kubernetes:apps/v1:Deployment")


def pod(g: Graph) -> dict[str, Any]:
    return deployment(g).inputs["spec"]["template"]["spec"]


def container(g: Graph) -> dict[str, Any]:
    return next(c for c in pod(g)["containers"] if c["name"] == "mlflow")


def trust(role: Resource) -> dict[str, str]:
    (stmt,) = policy(role, "assumeRolePolicy")["Statement"]
    assert stmt["Principal"] == {"Federated": OIDC_ARN}
    return stmt["Condition"]["StringEquals"]


def test_server_role_trusts_exactly_the_mlflow_service_account(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "mr-server")
    assert trust(role) == {
        f"{ISSUER}:sub": "system:serviceaccount:mlflow:mlflow",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    sa = graph.one("kubernetes:core/v1:ServiceAccount", "mr-server")
    assert sa.inputs["metadata"]["namespace"] == "mlflow"
    assert sa.inputs["metadata"]["name"] == "mlflow"
    assert sa.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    assert pod(graph)["serviceAccountName"] == "mlflow"


def test_server_role_reaches_only_the_mlflow_prefix(graph: Graph) -> None:
    doc = policy(graph.one("aws:iam/rolePolicy:RolePolicy", "mr-server-artifacts"))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ArtifactObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/mlflow/*"
    assert by_sid["ArtifactListing"]["Action"] == "s3:ListBucket"
    assert by_sid["ArtifactListing"]["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert by_sid["ArtifactListing"]["Condition"] == {"StringLike": {"s3:prefix": ["mlflow", "mlflow/*"]}}
    assert by_sid["ArtifactKey"]["Resource"] == DATA_KEY
    assert by_sid["ArtifactKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    }
    actions = [
        a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [
        a for a in actions if a.endswith("*") or a.startswith("s3:PutBucket") or a == "s3:DeleteBucket"
    ]


def tenant_secret(g: Graph) -> Resource:
    return g.one("aws:secretsmanager/secret:Secret", "mr-db-tenant-secret")


def test_secrets_role_reads_only_the_database_secret(graph: Graph) -> None:
    role = graph.one("aws:iam/role:Role", "mr-secrets")
    assert trust(role) == {
        f"{ISSUER}:sub": "system:serviceaccount:mlflow:mlflow-secrets",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    doc = policy(graph.one("aws:iam/rolePolicy:RolePolicy", "mr-secrets-read"))
    read, decrypt = doc["Statement"]
    assert sorted(read["Action"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    # MLflow's own tenant secret, never the RDS master secret.
    assert read["Resource"] == tenant_secret(graph).outputs["arn"] != SECRET_ARN
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == DATA_KEY
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == f"secretsmanager.{REGION}.amazonaws.com"


def test_secret_store_authenticates_with_the_namespaced_service_account(graph: Graph) -> None:
    store = graph.one("kubernetes:external-secrets.io/v1:SecretStore")
    assert store.inputs["metadata"]["namespace"] == "mlflow"
    assert store.inputs["spec"]["provider"]["aws"] == {
        "service": "SecretsManager",
        "region": REGION,
        "auth": {"jwt": {"serviceAccountRef": {"name": "mlflow-secrets"}}},
    }
    release = graph.one("kubernetes:helm.sh/v3:Release")
    assert release.urn in store.dependencies


def test_database_secret_is_synced_not_stored(graph: Graph) -> None:
    es = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-db-tenant-credentials")
    spec = es.inputs["spec"]
    assert spec["target"]["name"] == DB_SECRET
    assert spec["data"] == [
        {"secretKey": k, "remoteRef": {"key": tenant_secret(graph).outputs["arn"], "property": k}}
        for k in ("username", "password")
    ]
    # Nothing in the mlflow namespace references the master secret.
    in_ns = [r for r in graph.resources if (r.inputs.get("metadata") or {}).get("namespace") == "mlflow"]
    assert in_ns and SECRET_ARN not in json.dumps([r.inputs for r in in_ns])
    # Pulumi creates no Kubernetes Secret and no Secrets Manager secret value at all.
    assert not graph.of_type("kubernetes:core/v1:Secret")
    assert not graph.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def auth_external_secret(g: Graph) -> dict[str, Any]:
    return g.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-auth").inputs["spec"]


def test_auth_secrets_are_generated_in_cluster_once(graph: Graph) -> None:
    spec = auth_external_secret(graph)
    assert spec["refreshInterval"] == "0s"
    refs = [d["sourceRef"]["generatorRef"] for d in spec["dataFrom"]]
    generators = {
        r.inputs["metadata"]["name"]: r
        for r in graph.of_type("kubernetes:generators.external-secrets.io/v1alpha1:Password")
    }
    g_metrics = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-metrics")
    refs += [d["sourceRef"]["generatorRef"] for d in g_metrics.inputs["spec"]["dataFrom"]]
    assert sorted(r["name"] for r in refs) == sorted(generators)  # each generator feeds one secret
    assert g_metrics.inputs["spec"]["refreshPolicy"] == "Periodic"  # the scrape credential rotates
    for g in generators.values():
        assert g.inputs["spec"]["length"] >= 32
        assert g.inputs["metadata"]["namespace"] == "mlflow"
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(spec["target"]["template"]["data"]["basic_auth.ini"])
    auth = ini["mlflow"]
    assert auth["admin_password"] == "{{ .admin_password }}"
    assert auth["database_uri"] == f"postgresql+psycopg2://{DB_HOST}:5432/mlflow?sslmode=verify-full"
    assert auth["default_permission"] == "NO_PERMISSIONS"


def test_server_arguments_point_at_the_bucket_prefix_and_database(graph: Graph) -> None:
    c = container(graph)
    args = c["args"]
    expected = server_spec(
        db_host=DB_HOST,
        db_port=5432,
        db_name="mlflow",
        artifact_bucket=BUCKET,
        db_secret_name=DB_SECRET,
        auth_secret_name=AUTH_SECRET,
        image=c["image"],
        region=REGION,
        allowed_hosts=service_hosts(service="mlflow", namespace="mlflow"),
        artifact_kms_key_arn=DATA_KEY,
    )
    assert c["command"] == expected.command
    assert args == expected.args
    uri = args[args.index("--backend-store-uri") + 1]
    assert uri.startswith("postgresql+psycopg2://") and uri.endswith("?sslmode=verify-full")
    assert "@" not in uri  # no credentials in the URI
    assert DB_HOST in uri
    assert args[args.index("--artifacts-destination") + 1] == f"s3://{BUCKET}/mlflow"
    assert "--serve-artifacts" in args
    assert "--expose-prometheus" in args
    assert args[args.index("--app-name") + 1] == "basic-auth"
    assert "mlflow.mlflow.svc.cluster.local" in args[args.index("--allowed-hosts") + 1].split(",")
    env = {e["name"]: e for e in c["env"]}
    assert env["MLFLOW_S3_UPLOAD_EXTRA_ARGS"]["value"] == (
        '{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "' + DATA_KEY + '"}'
    )
    assert "MLFLOW_S3_ENDPOINT_URL" not in env
    # Credentials come from the libpq service file synced from the RDS secret, re-read at every connection
    # (so RDS's password rotation needs no restart), never from env values or the URI.
    assert "PGUSER" not in env and "PGPASSWORD" not in env
    assert env["PGSERVICEFILE"]["value"] == "/etc/mlflow/db/pg_service.conf"
    assert env["PGSERVICE"]["value"] == "mlflow"
    assert not [e for e in env.values() if "value" in e and "password" in e["name"].lower()]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["db"] == {"name": "db", "mountPath": "/etc/mlflow/db", "readOnly": True}
    volumes = {v["name"]: v for v in pod(graph)["volumes"]}
    assert volumes["db"]["secret"]["secretName"] == DB_SECRET
    assert volumes["db"]["secret"]["items"] == [{"key": "pg_service.conf", "path": "pg_service.conf"}]
    assert "subPath" not in mounts["db"], "a subPath mount would never see the rotated password"


def test_every_secret_the_server_reads_is_produced_by_an_external_secret(graph: Graph) -> None:
    produced = {
        DB_SECRET: {
            d["secretKey"]
            for d in graph.one(
                "kubernetes:external-secrets.io/v1:ExternalSecret", "mr-db-tenant-credentials"
            ).inputs["spec"]["data"]
        },
        AUTH_SECRET: set(auth_external_secret(graph)["target"]["template"]["data"]),
    }
    c = container(graph)
    for e in c["env"]:
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["key"] in produced[ref["name"]], e["name"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    path = env["MLFLOW_AUTH_CONFIG_PATH"]
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "auth"]
    (volume,) = [v for v in pod(graph)["volumes"] if v["name"] == "auth"]
    assert f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}" == path
    assert volume["secret"]["secretName"] == AUTH_SECRET
    assert volume["secret"]["items"][0]["key"] in produced[AUTH_SECRET]


def test_pod_is_hardened(graph: Graph) -> None:
    p, c = pod(graph), container(graph)
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == IMAGE_UID > 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert p["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # Not opted out: the IRSA web-identity token must reach the pod (the account has no RBAC binding).
    assert "automountServiceAccountToken" not in p
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}} in p["volumes"]
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"}
    # The artifact proxy spools uploads under /tmp: its emptyDir and the ephemeral-storage limit agree.
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "20Gi"}
    tmp = next(v for v in pod(graph)["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"] == {"sizeLimit": "20Gi"}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert {t["topologyKey"] for t in p["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    ns = graph.one("kubernetes:core/v1:Namespace", "mr-ns")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_service_and_disruption_budget(graph: Graph) -> None:
    svc = graph.one("kubernetes:core/v1:Service")
    assert svc.inputs["metadata"] == {**svc.inputs["metadata"], "name": "mlflow", "namespace": "mlflow"}
    assert svc.inputs["spec"]["type"] == "ClusterIP"
    assert svc.inputs["spec"]["ports"] == [
        {"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"},
    ]
    pdb = graph.one("kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb.inputs["spec"]["maxUnavailable"] == 1
    assert pdb.inputs["spec"]["selector"] == deployment(graph).inputs["spec"]["selector"]


def test_network_policies_default_deny_and_narrow_allows(graph: Graph) -> None:
    pols = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert pols["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    scrape, clients = pols["mlflow-ingress"]["ingress"]
    # Prometheus pods of the monitoring namespace reach the metrics exporter only, never MLflow's API.
    assert scrape["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    assert scrape["ports"] == [{"port": 9102, "protocol": "TCP"}]
    assert clients["from"] == [
        {"namespaceSelector": {"matchLabels": {"mlops.platform/mlflow-client": "true"}}}
    ]
    assert clients["ports"] == [{"port": 5000, "protocol": "TCP"}]
    egress = pols["mlflow-egress"]["egress"]
    # Every egress rule names its destinations: none is open to the internet.
    assert all(rule.get("to") for rule in egress)
    db = [rule for rule in egress if rule.get("ports", [{}])[0].get("port") == 5432]
    assert [p["ipBlock"]["cidr"] for p in db[0]["to"]] == DB_CIDRS
    https = [rule for rule in egress if rule["ports"] == [{"port": 443, "protocol": "TCP"}]]
    assert [p["ipBlock"] for rule in https for p in rule["to"]] == [{"cidr": VPC_CIDR}]
    assert {tuple(sorted(p.items())) for rule in egress for p in rule["ports"]} == {
        (("port", 53), ("protocol", "UDP")),
        (("port", 53), ("protocol", "TCP")),
        (("port", 5432), ("protocol", "TCP")),
        (("port", 443), ("protocol", "TCP")),
    }


def test_outputs_in_cluster_url() -> None:
    holder: dict[str, ModelRegistry] = {}

    def program() -> None:
        holder["mr"] = ModelRegistry(
            "mr",
            ModelRegistryArgs(
                oidc_provider_arn=OIDC_ARN,
                oidc_issuer_url=ISSUER,
                artifact_bucket_name=BUCKET,
                artifact_bucket_arn=f"arn:aws:s3:::{BUCKET}",
                artifact_key_arn=DATA_KEY,
                db_host=DB_HOST,
                db_port=5432,
                db_name="mlflow",
                db_master_secret_arn=SECRET_ARN,
                db_secret_key_arn=DATA_KEY,
                database_cidrs=DB_CIDRS,
                vpc_cidr=VPC_CIDR,
                image="img@sha256:0",
                region=REGION,
                namespace="registry",
            ),
        )
        import pulumi

        pulumi.export("url", holder["mr"].url)

    g = run_callable(program)
    assert g.outputs["url"] == "http://mlflow.registry.svc.cluster.local:5000"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_platform_wiring_per_environment(env: str) -> None:
    g, cfg = render_platform(env)
    dep = deployment(g)
    assert dep.inputs["spec"]["replicas"] == cfg.mlflow.replicas
    assert dep.provider == g.one("pulumi:providers:kubernetes").urn
    c = dep.inputs["spec"]["template"]["spec"]["containers"][0]
    bucket = g.one("aws:s3/bucket:Bucket", f"{cfg.name}-artifacts-bucket")
    db = g.one("aws:rds/instance:Instance")
    args = c["args"]
    assert args[args.index("--artifacts-destination") + 1] == f"s3://{bucket.outputs['bucket']}/mlflow"
    assert args[args.index("--backend-store-uri") + 1] == (
        f"postgresql+psycopg2://{db.outputs['address']}:5432/mlflow?sslmode=verify-full"
    )
    repo = g.one("aws:ecr/repository:Repository", f"{cfg.name}-ecr-mlflow")
    assert c["image"].startswith(repo.outputs["repositoryUrl"] + ":")
    # External Secrets reads MLflow's tenant secret; only the tenant jobs' roles (MLflow's, and the pipelines'
    # workflow archive's) read the database's managed master secret.
    master = db.outputs["masterUserSecrets"][0]["secretArn"]
    tenant = g.one("aws:secretsmanager/secret:Secret", f"{cfg.name}-mlflow-db-tenant-secret")
    assert tenant.inputs["kmsKeyId"] == g.one("aws:kms/key:Key", f"{cfg.name}-data").outputs["arn"]
    read = policy(g.one("aws:iam/rolePolicy:RolePolicy", f"{cfg.name}-mlflow-secrets-read"))["Statement"][0]
    assert read["Resource"] == tenant.outputs["arn"]
    readers = [p.name for p in g.of_type("aws:iam/rolePolicy:RolePolicy") if master in json.dumps(policy(p))]
    assert sorted(readers) == [f"{cfg.name}-mlflow-db-tenant-job", f"{cfg.name}-pipelines-archive-db-job"]
    # The database admits exactly the node security group.
    node_sg = g.one("aws:ec2/securityGroup:SecurityGroup", f"{cfg.name}-eks-nodes")
    db_sg = g.one("aws:ec2/securityGroup:SecurityGroup", f"{cfg.name}-metadata-sg")
    rules = [
        r
        for r in g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == db_sg.id
    ]
    assert [
        (r.inputs["referencedSecurityGroupId"], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules
    ] == [(node_sg.id, 5432, 5432)]
    # MLflow's egress to PostgreSQL goes only to the database subnets.
    db_cidrs = sorted(
        s.inputs["cidrBlock"] for s in g.of_type("aws:ec2/subnet:Subnet") if "database" in s.name
    )
    egress = next(
        r
        for r in g.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r.inputs["metadata"]["name"] == "mlflow-egress"
    ).inputs["spec"]["egress"]
    assert sorted(p["ipBlock"]["cidr"] for p in egress[1]["to"]) == db_cidrs


def test_prod_keeps_at_least_two_replicas_spread() -> None:
    g, _ = render_platform("prod")
    spec = deployment(g).inputs["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_missing_database_cidrs_is_refused() -> None:
    with pytest.raises(ValueError, match="CIDRs"):
        render(database_cidrs=[])


def test_no_plaintext_credentials_anywhere_in_the_graph() -> None:
    g, _ = render_platform("prod")
    text = json.dumps([r.to_json() for r in g.resources])
    assert 'PGPASSWORD", "value"' not in text
    assert "admin_password = {{ .admin_password }}" in text
    assert "://" + "admin:" not in text


def test_db_secret_renders_the_libpq_service_file_from_the_rds_secret(graph: Graph) -> None:
    db = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-db-tenant-credentials")
    template = db.inputs["spec"]["target"]["template"]
    assert template["mergePolicy"] == "Merge", "username/password stay in the Secret too"
    assert template["data"]["pg_service.conf"] == "[mlflow]\nuser={{ .username }}\npassword={{ .password }}\n"
    assert {d["secretKey"] for d in db.inputs["spec"]["data"]} == {"username", "password"}


def test_generated_auth_secret_is_created_once_and_the_db_secret_follows_rotation(graph: Graph) -> None:
    auth = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-auth").inputs["spec"]
    # MLflow reads the admin password only when it first creates the user: never regenerate it.
    assert auth["refreshPolicy"] == "CreatedOnce"
    db = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-db-tenant-credentials").inputs[
        "spec"
    ]
    assert db["refreshInterval"] == "1m"


def test_rollout_is_awaited_unless_the_first_deployment_opts_out() -> None:
    awaited, _ = render_platform("dev")
    assert "annotations" not in deployment(awaited).inputs["metadata"]
    graph = render(await_rollout=False)
    assert deployment(graph).inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


# ---- the scrape credential and the metrics exporter (mlops_platform.components.mlflow.metrics) ---------------------------


def exporter(g: Graph) -> dict[str, Any]:
    return next(c for c in pod(g)["containers"] if c["name"] == "metrics")


def test_scrape_credential_is_its_own_generated_rotated_secret(graph: Graph) -> None:
    es = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-metrics").inputs
    assert es["metadata"]["name"] == "mlflow-metrics" != AUTH_SECRET
    spec = es["spec"]
    assert (spec["refreshPolicy"], spec["refreshInterval"]) == ("Periodic", "720h")
    (source,) = spec["dataFrom"]
    generator = graph.one(
        "kubernetes:generators.external-secrets.io/v1alpha1:Password", "mr-metrics-password"
    )
    assert source["sourceRef"]["generatorRef"]["name"] == generator.inputs["metadata"]["name"]
    assert generator.inputs["spec"]["length"] >= 32 and generator.inputs["spec"]["symbols"] == 0
    data = spec["target"]["template"]["data"]
    assert data == {
        "username": "prometheus",
        "password": "{{ .password }}",
        "password.sha256": "{{ .password | sha256sum }}",
    }
    # Not the admin's: nothing of the auth secret is reused.
    assert "admin" not in json.dumps(spec)


def test_only_the_exporter_mounts_the_scrape_credential_and_only_its_hash(graph: Graph) -> None:
    p = pod(graph)
    (volume,) = [v for v in p["volumes"] if v.get("secret", {}).get("secretName") == "mlflow-metrics"]
    assert [i["key"] for i in volume["secret"]["items"]] == ["username", "password.sha256"]
    users = [
        c["name"] for c in p["containers"] if any(m["name"] == volume["name"] for m in c["volumeMounts"])
    ]
    assert users == ["metrics"]
    assert all("mlflow-metrics" not in json.dumps(c.get("env", [])) for c in p["containers"])


def test_exporter_runs_the_exporter_module_hardened(graph: Graph) -> None:
    from mlops_platform.components.mlflow.metrics import exporter_spec

    c, server = exporter(graph), container(graph)
    expected = exporter_spec(image=server["image"])
    assert c["image"] == server["image"]  # the MLflow image: prometheus_client, no extra image to pin
    assert [*c["command"], *c["args"]] == [*expected.command, *expected.args]
    assert c["command"][:2] == ["python", "-c"]
    assert "def check_credentials" in c["command"][2]
    args = c["args"]
    assert args[args.index("--multiproc-dir") + 1] == "/mlflow-tmp/mlflow-metrics"
    assert {"name": "tmp", "mountPath": "/mlflow-tmp", "readOnly": True} in c["volumeMounts"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert set(c["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}


def test_egress_needs_a_vpc_sized_cidr() -> None:
    with pytest.raises(ValueError, match="wider than a VPC"):
        render(vpc_cidr="0.0.0.0/0")


def test_platform_scrapes_the_exporter_with_the_scrape_credential_never_the_admin() -> None:
    g, _ = render_platform("staging")
    (monitor,) = [
        r
        for r in g.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if r.inputs["metadata"]["name"] == "mlflow"
    ]
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert endpoint["basicAuth"] == {
        "username": {"name": "mlflow-metrics", "key": "username"},
        "password": {"name": "mlflow-metrics", "key": "password"},
    }
    assert monitor.inputs["metadata"]["namespace"] == "mlflow"  # beside the Secret it references


# ---- database tenant (issue 11, defect 11) ---------------------------------------------------------------


def test_tenant_job_is_the_only_holder_of_the_master_secret(graph: Graph) -> None:
    from mlops_platform.components.database.tenant import JOB_SCRIPT_KEY, JOB_SCRIPT_SOURCE, job_command

    job = graph.one("kubernetes:batch/v1:Job", "mr-db-tenant-ensure")
    assert job.inputs["metadata"]["namespace"] == "db-admin"
    pod_spec = job.inputs["spec"]["template"]["spec"]
    (c,) = pod_spec["containers"]
    assert c["command"] == job_command("ensure")
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["TENANT_MASTER_SECRET_ID"] == SECRET_ARN
    assert env["TENANT_SECRET_ID"] == tenant_secret(graph).outputs["arn"]
    assert (env["TENANT_DATABASE"], env["TENANT_ROLE"], env["PGHOST"]) == ("mlflow", "mlflow", DB_HOST)
    assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == RDS_CA_BUNDLE_PATH
    assert not [k for k in env if "PASSWORD" in k]
    # The program is this repository's file, as it is, in an immutable ConfigMap.
    cm = graph.one("kubernetes:core/v1:ConfigMap", "mr-db-tenant-script")
    assert cm.inputs["data"] == {JOB_SCRIPT_KEY: JOB_SCRIPT_SOURCE.read_text()} and cm.inputs["immutable"]
    (program,) = [v for v in pod_spec["volumes"] if v["name"] == "program"]
    assert program["configMap"]["name"] == cm.inputs["metadata"]["name"]
    # Its role: exactly the master secret (read) and the tenant secret (read/write), keys through Secrets Manager.
    role = graph.one("aws:iam/role:Role", "mr-db-tenant-job")
    assert trust(role) == {
        f"{ISSUER}:sub": "system:serviceaccount:db-admin:mlflow-db-tenant",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    doc = policy(graph.one("aws:iam/rolePolicy:RolePolicy", "mr-db-tenant-job"))
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ReadMasterSecret"]["Resource"] == SECRET_ARN
    assert "secretsmanager:PutSecretValue" not in by_sid["ReadMasterSecret"]["Action"]
    assert by_sid["WriteTenantSecret"]["Resource"] == tenant_secret(graph).outputs["arn"]
    assert by_sid["SecretKeys"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }
    sa = graph.one("kubernetes:core/v1:ServiceAccount", "mr-db-tenant-job")
    assert pod_spec["serviceAccountName"] == sa.inputs["metadata"]["name"] == "mlflow-db-tenant"
    assert sa.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role.outputs["arn"]}
    # The tenant secret: customer key, no value from Pulumi.
    assert tenant_secret(graph).inputs["kmsKeyId"] == DATA_KEY
    assert not graph.of_type("aws:secretsmanager/secretVersion:SecretVersion")


def test_tenant_password_rotates_with_the_same_program(graph: Graph) -> None:
    from mlops_platform.components.database.tenant import job_command

    cron = graph.one("kubernetes:batch/v1:CronJob", "mr-db-tenant-rotate")
    job = graph.one("kubernetes:batch/v1:Job", "mr-db-tenant-ensure")
    cron_pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    job_pod = job.inputs["spec"]["template"]["spec"]
    assert cron_pod["containers"][0]["command"] == job_command("rotate")
    assert cron_pod["containers"][0]["env"] == job_pod["containers"][0]["env"]
    assert cron.inputs["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron.inputs["spec"]["schedule"] == "17 3 1 * *"
    # The synced Secret follows a rotation within a minute, and libpq re-reads its file at every connection.
    es = graph.one("kubernetes:external-secrets.io/v1:ExternalSecret", "mr-db-tenant-credentials")
    assert es.inputs["spec"]["refreshInterval"] == "1m"
    assert job.urn in es.dependencies


def test_db_admin_namespace_is_default_deny_with_narrow_egress(graph: Graph) -> None:
    ns = graph.one("kubernetes:core/v1:Namespace", "mr-db-admin")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["namespace"] == "db-admin"
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = policies["tenant-job-egress"]["egress"]
    assert [r["to"][0]["ipBlock"]["cidr"] for r in egress[1:2]] == [DB_CIDRS[0]]
    assert {r["ports"][0]["port"] for r in egress} == {53, 5432, 443}
    assert "ingress" not in policies["tenant-job-egress"]


def test_tenant_refuses_a_role_name_postgres_would_quote() -> None:
    from mlops_platform.components.database.tenant import check_identifier

    with pytest.raises(ValueError, match="role 'MLflow-Admin'"):
        check_identifier("mlflow", "role", "MLflow-Admin")
    with pytest.raises(Exception, match="must match"):
        render(db_role="MLflow-Admin")


# ---- schema migration (issue 11, defect 6) ---------------------------------------------------------------


def migration_job(g: Graph) -> Resource:
    return g.one("kubernetes:batch/v1:Job", "mr-db-upgrade")


def test_schema_is_migrated_by_a_job_the_deployment_waits_for(graph: Graph) -> None:
    job = migration_job(graph)
    c = container(graph)
    spec = server_spec(
        db_host=DB_HOST,
        db_port=5432,
        db_name="mlflow",
        artifact_bucket=BUCKET,
        db_secret_name=DB_SECRET,
        auth_secret_name=AUTH_SECRET,
        image=c["image"],
        region=REGION,
        allowed_hosts=service_hosts(service="mlflow", namespace="mlflow"),
        artifact_kms_key_arn=DATA_KEY,
        db_credentials="service-file",
    )
    migration = migration_spec(spec)
    pod_spec = job.inputs["spec"]["template"]["spec"]
    steps = [*pod_spec["initContainers"], *pod_spec["containers"]]
    assert [(s["name"], [*s["command"], *s["args"]]) for s in steps] == migration.steps
    assert migration.steps[0][1][:3] == ["mlflow", "db", "upgrade"]
    for step in steps:
        assert step["image"] == c["image"]  # the same image as the server
        assert {e["name"]: e["value"] for e in step["env"]} == migration.env
        assert {"name": "db", "mountPath": "/etc/mlflow/db", "readOnly": True} in step["volumeMounts"]
    assert pod_spec["restartPolicy"] == "Never"
    assert job.urn in deployment(graph).dependencies
    # Every server pod first waits until the schema is at the image's head: no replica migrates it.
    (gate,) = pod(graph)["initContainers"]
    assert [*gate["command"], *gate["args"]] == migration.gate
    # The migration pods are not behind the Service (their own labels) and have their own egress to the database.
    service = graph.one("kubernetes:core/v1:Service")
    labels = job.inputs["spec"]["template"]["metadata"]["labels"]
    assert not set(service.inputs["spec"]["selector"].items()) <= set(labels.items())
    egress = graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "mr-migrate-egress").inputs["spec"]
    assert egress["podSelector"]["matchLabels"].items() <= labels.items()


def test_a_new_image_is_a_new_migration_job() -> None:
    a = migration_job(render()).inputs["metadata"]["name"]
    b = migration_job(render(image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/x/mlflow:3.17.2-platform.9"))
    assert a.startswith("mlflow-db-upgrade-") and b.inputs["metadata"]["name"] != a
    assert a == migration_job(render()).inputs["metadata"]["name"]  # stable otherwise


def test_first_deployment_awaits_neither_job() -> None:
    graph = render(await_rollout=False)
    skip = {"pulumi.com/skipAwait": "true"}
    assert migration_job(graph).inputs["metadata"]["annotations"] == skip
    assert (
        graph.one("kubernetes:batch/v1:Job", "mr-db-tenant-ensure").inputs["metadata"]["annotations"] == skip
    )
    awaited = render()
    assert "annotations" not in migration_job(awaited).inputs["metadata"]
    assert (
        "annotations" not in awaited.one("kubernetes:batch/v1:Job", "mr-db-tenant-ensure").inputs["metadata"]
    )


# ---- TLS verification (issue 11, defect 13) --------------------------------------------------------------


def test_server_verifies_the_database_certificate(graph: Graph) -> None:
    c = container(graph)
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["PGSSLROOTCERT"] == RDS_CA_BUNDLE_PATH
    uri = c["args"][c["args"].index("--backend-store-uri") + 1]
    assert uri.endswith("?sslmode=verify-full")


def test_db_admin_https_egress_can_be_narrowed_to_the_vpc() -> None:
    graph = render(db_admin_https_cidrs=["10.10.0.0/16"])
    egress = graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "mr-db-admin-egress").inputs["spec"][
        "egress"
    ]
    (https,) = [r for r in egress if r["ports"][0]["port"] == 443]
    assert https["to"] == [{"ipBlock": {"cidr": "10.10.0.0/16"}}]


def test_db_admin_https_egress_defaults_to_the_vpc_not_the_internet(graph: Graph) -> None:
    egress = graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "mr-db-admin-egress").inputs["spec"][
        "egress"
    ]
    (https,) = [r for r in egress if r["ports"][0]["port"] == 443]
    assert https["to"] == [{"ipBlock": {"cidr": VPC_CIDR}}]
