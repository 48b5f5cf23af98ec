"""Argo Workflows' chart rendered by the real helm from the pinned chart with exactly the values the platform
passes: what the API server and the controller would receive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from verify_kit import project_helm, shared_charts

from mlops_platform.components.pipelines.argo import (
    ARCHIVE_SECRET,
    ARGO_CHART,
    ARGO_CHART_VERSION,
    CA_DIR,
    RELEASE_NAME,
    ArgoValuesSpec,
    argo_values,
)

SPEC = ArgoValuesSpec(
    workflow_namespaces=["pipelines"],
    workflow_service_account="pipeline-runner",
    bucket="mlops-dev-artifacts-123456789012-eu-west-1",
    region="eu-west-1",
    db_host="mlops-dev-metadata.abc.eu-west-1.rds.amazonaws.com",
    db_port=5432,
    db_name="argo_workflows",
    ca_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-dev/mlflow:3.17.2-platform.2",
    ca_bundle_path="/opt/mlflow/share/rds-ca/global-bundle.pem",
    ca_image_uid=10001,
    server_role_arn="arn:aws:iam::123456789012:role/server",
)


def render(values: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    chart = shared_charts() / f"{ARGO_CHART}-{ARGO_CHART_VERSION}"
    done = project_helm().run(
        [
            "template",
            RELEASE_NAME,
            str(chart),
            "--namespace",
            "argo",
            "--kube-version",
            "1.34.0",
            "-f",
            str(values_file),
        ]
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(argo_values(SPEC), tmp_path_factory.mktemp("argo"))


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def controller_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(
        one(docs, "ConfigMap", f"{RELEASE_NAME}-workflow-controller-configmap")["data"]["config"]
    )


def test_the_chart_installs_its_own_crds_and_downloads_nothing(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    kinds = [d["kind"] for d in rendered]
    assert kinds.count("CustomResourceDefinition") == 8
    assert "Job" not in kinds
    # The chart's default would: a hook Job that fetches the CRDs from GitHub (what crds.full=false avoids).
    default = render({**argo_values(SPEC), "crds": {"install": True, "full": True}}, tmp_path)
    jobs = [d for d in default if d["kind"] == "Job"]
    assert jobs and "raw.githubusercontent.com" in yaml.safe_dump(jobs)


def test_the_server_needs_a_kubernetes_token_and_stays_in_the_cluster(rendered: list[dict[str, Any]]) -> None:
    server = one(rendered, "Deployment", f"{RELEASE_NAME}-server")
    (container,) = server["spec"]["template"]["spec"]["containers"]
    assert "--auth-mode=client" in container["args"]
    assert not [a for a in container["args"] if a == "--auth-mode=server"]
    assert one(rendered, "Service", f"{RELEASE_NAME}-server")["spec"]["type"] == "ClusterIP"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    sa = one(rendered, "ServiceAccount", f"{RELEASE_NAME}-server")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": SPEC.server_role_arn}


def test_the_archive_is_postgresql_with_verified_tls_and_synced_credentials(
    rendered: list[dict[str, Any]],
) -> None:
    persistence = controller_config(rendered)["persistence"]
    assert persistence["archive"] is True
    pg = persistence["postgresql"]
    assert (pg["host"], pg["port"], pg["database"]) == (SPEC.db_host, 5432, "argo_workflows")
    assert (pg["ssl"], pg["sslMode"]) == (True, "verify-full")
    assert pg["userNameSecret"] == {"name": ARCHIVE_SECRET, "key": "username"}
    assert pg["passwordSecret"] == {"name": ARCHIVE_SECRET, "key": "password"}
    for name in ("workflow-controller", "server"):
        pod = one(rendered, "Deployment", f"{RELEASE_NAME}-{name}")["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["image"] == SPEC.ca_image and init["args"][0] == SPEC.ca_bundle_path
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["PGSSLROOTCERT"] == f"{CA_DIR}/global-bundle.pem"
        assert [m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == "rds-ca"] == [
            CA_DIR
        ]


def test_artifacts_go_to_the_bucket_prefix_with_the_pods_own_identity(rendered: list[dict[str, Any]]) -> None:
    s3 = controller_config(rendered)["artifactRepository"]["s3"]
    assert s3["useSDKCreds"] is True
    assert "accessKeySecret" not in s3 and "secretKeySecret" not in s3
    assert s3["bucket"] == SPEC.bucket and s3["endpoint"] == "s3.eu-west-1.amazonaws.com"
    assert s3["keyFormat"].startswith("pipelines/{{workflow.namespace}}/")


def test_every_workflow_gets_compliant_defaults(rendered: list[dict[str, Any]]) -> None:
    config = controller_config(rendered)
    spec = config["workflowDefaults"]["spec"]
    assert spec["serviceAccountName"] == "pipeline-runner"
    assert spec["activeDeadlineSeconds"] == SPEC.active_deadline_seconds
    assert spec["ttlStrategy"]["secondsAfterCompletion"] == SPEC.ttl_seconds
    assert spec["podGC"]["strategy"] == "OnPodCompletion"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in (config["mainContainer"], config["executor"]):
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert set(container["resources"]) == {"requests", "limits"}
    assert config["workflowRestrictions"] == {"templateReferencing": "Secure"}


def test_the_chart_creates_no_workflow_rbac_of_its_own(rendered: list[dict[str, Any]]) -> None:
    namespaced = [d for d in rendered if d["kind"] in ("Role", "RoleBinding", "ServiceAccount")]
    assert not [d for d in namespaced if d["metadata"].get("namespace") == "pipelines"]


def test_every_pod_of_the_chart_is_restricted(rendered: list[dict[str, Any]]) -> None:
    for deployment in [d for d in rendered if d["kind"] == "Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
            assert set(container["resources"]) == {"requests", "limits"}
