"""Layer "semantics", the checks of one object: one planted defect per check, each found at the resource
that made it (file:line)."""

from __future__ import annotations

import pytest

from mlops_platform.mlops.graph import Resource, SourcePosition
from mlops_platform.mlops.verify import semantics
from mlops_platform.mlops.verify.model import VerifyContext

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SERVICE = "kubernetes:core/v1:Service"


def _pod(inputs):
    return inputs["spec"]["template"]["spec"]


def _container(inputs):
    return _pod(inputs)["containers"][0]


def test_pdb_with_both_fields(planted, at):
    ctx, pdb = planted("prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(minAvailable=2))
    found = at(semantics.check(ctx), "pdb-both-set", pdb)
    assert len(found) == 1
    assert found[0].path == "spec"
    assert "minAvailable=2, maxUnavailable=1" in found[0].message
    assert str(found[0].source).startswith("components/mlflow/model_registry.py:")


def test_pdb_empty_max_unavailable_next_to_min_available(planted, at):
    """Defect 1 of the issue, as our own object: ``maxUnavailable: ""`` counts as set and is invalid."""
    ctx, pdb = planted(
        "prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(minAvailable=1, maxUnavailable="")
    )
    findings = semantics.check(ctx)
    assert len(at(findings, "pdb-both-set", pdb)) == 1
    empty = at(findings, "int-or-string", pdb)
    assert [f.path for f in empty] == ["spec.maxUnavailable"]
    assert "empty string" in empty[0].message


@pytest.mark.parametrize("value", ["", "1", "ten%", -1])
def test_rolling_update_int_or_string(planted, at, value):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: i["spec"]["strategy"]["rollingUpdate"].update(maxSurge=value),
    )
    found = at(semantics.check(ctx), "int-or-string", dep)
    assert [f.path for f in found] == ["spec.strategy.rollingUpdate.maxSurge"]


def test_selector_that_misses_the_template_labels(planted, at):
    def mutate(inputs):
        inputs["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "mlflow-server"

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "selector-mismatch", dep)
    assert [f.path for f in found] == ["spec.selector"]
    assert "does not match the pod template's labels" in found[0].message


def test_selector_expressions_are_evaluated(planted, at):
    def mutate(inputs):
        inputs["spec"]["selector"] = {
            "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["mlflow"]}]
        }

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    assert len(at(semantics.check(ctx), "selector-mismatch", dep)) == 1


def test_named_probe_port_not_declared(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["livenessProbe"]["httpGet"].update(port="metrics"),
    )
    found = at(semantics.check(ctx), "probe-port", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].livenessProbe.httpGet.port"]
    assert "'metrics'" in found[0].message and "['http']" in found[0].message


def test_an_all_digit_string_port_is_a_port_name_the_api_server_rejects(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["livenessProbe"]["httpGet"].update(port="5000"),
    )
    (found,) = at(semantics.check(ctx), "port-name-digits", dep)
    assert found.path == "spec.template.spec.containers[0].livenessProbe.httpGet.port"
    assert "'5000'" in found.message and "write the number 5000" in found.message
    ctx, svc = planted(
        "prod", SERVICE, "mlflow-service", lambda i: i["spec"]["ports"][0].update(targetPort="5000")
    )
    assert [f.path for f in at(semantics.check(ctx), "port-name-digits", svc)] == ["spec.ports[0].targetPort"]
    ctx, policy = planted(
        "prod",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "mlflow-allow-clients",
        lambda i: i["spec"]["ingress"][0]["ports"][0].update(port="5000"),
    )
    found = at(semantics.check(ctx), "port-name-digits", policy)
    assert [f.path for f in found] == ["spec.ingress[0].ports[0].port"]


def test_duplicate_container_names(planted, at):
    def mutate(inputs):
        pod = _pod(inputs)
        pod["initContainers"] = [{"name": pod["containers"][0]["name"], "image": "busybox"}]

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "duplicate-container", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].name"]


def test_duplicate_port_names_in_a_pod(planted, at):
    appended: list[int] = []

    def mutate(inputs):
        pod = _pod(inputs)
        appended.append(len(pod["containers"]))  # the server and its metrics exporter come first
        pod["containers"].append(
            {"name": "sidecar", "image": "busybox", "ports": [{"name": "http", "containerPort": 8080}]}
        )

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "duplicate-port", dep)
    assert [f.path for f in found] == [f"spec.template.spec.containers[{appended[0]}].ports[0].name"]


def test_bad_quantity(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: _container(i)["resources"]["limits"].update(memory="1.5Gi "),
    )
    found = at(semantics.check(ctx), "quantity", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].resources.limits.memory"]
    assert "'1.5Gi '" in found[0].message


def test_request_above_limit(planted, at):
    ctx, dep = planted(
        "prod", DEPLOYMENT, "mlflow-server", lambda i: _container(i)["resources"]["requests"].update(cpu="3")
    )
    found = at(semantics.check(ctx), "request-over-limit", dep)
    assert [f.path for f in found] == ["spec.template.spec.containers[0].resources.requests.cpu"]


def test_empty_dir_size_limit(planted, at):
    def mutate(inputs):
        _pod(inputs)["volumes"][0]["emptyDir"] = {"sizeLimit": "1 Gi"}

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    found = at(semantics.check(ctx), "quantity", dep)
    assert [f.path for f in found] == ["spec.template.spec.volumes[0].emptyDir.sizeLimit"]


def test_label_value_too_long_and_invalid_names(planted, at):
    def mutate(inputs):
        inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] = "x" * 64
        _container(inputs)["name"] = "MLflow"
        _container(inputs)["ports"][0]["name"] = "http-tracking-server"

    ctx, dep = planted("prod", DEPLOYMENT, "mlflow-server", mutate)
    findings = semantics.check(ctx)
    assert [f.path for f in at(findings, "invalid-label", dep)] == [
        "metadata.labels.app.kubernetes.io/part-of"
    ]
    assert sorted(f.path for f in at(findings, "invalid-name", dep)) == [
        "spec.template.spec.containers[0].name",
        "spec.template.spec.containers[0].ports[0].name",
    ]


def test_config_map_keys(planted, at):
    def mutate(inputs):
        inputs["data"]["bad key.json"] = "{}"
        inputs["binaryData"] = {next(iter(inputs["data"])): "e30="}

    ctx, cm = planted("prod", "kubernetes:core/v1:ConfigMap", "dashboard", mutate)
    findings = semantics.check(ctx)
    assert [f.path for f in at(findings, "invalid-name", cm)] == ["data.bad key.json"]
    assert len(at(findings, "duplicate-key", cm)) == 1


def test_job_selector_without_manual_selector():
    job = Resource(
        urn="urn:pulumi:t::p::kubernetes:batch/v1:Job::j",
        type="kubernetes:batch/v1:Job",
        name="j",
        custom=True,
        inputs={
            "metadata": {"name": "j", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
        source=SourcePosition("components/job.py", 3),
    )
    from mlops_platform.mlops.graph import Graph

    ctx = VerifyContext(graph=Graph("p", "t", [job]), stack="t", kube_version="1.34")
    assert [(f.check, str(f.source)) for f in semantics.check(ctx)] == [
        ("selector-mismatch", "components/job.py:3")
    ]
    job.inputs["spec"]["manualSelector"] = True
    assert semantics.check(ctx) == []
    job.inputs["spec"]["selector"] = {"matchLabels": {"a": "c"}}
    assert [f.check for f in semantics.check(ctx)] == ["selector-mismatch"]


def test_rollout_that_cannot_progress_and_percentages_above_100(planted, at):
    ctx, dep = planted(
        "prod",
        DEPLOYMENT,
        "mlflow-server",
        lambda i: i["spec"]["strategy"]["rollingUpdate"].update(maxSurge="0%"),
    )
    assert [f.path for f in at(semantics.check(ctx), "rollout-stuck", dep)] == ["spec.strategy.rollingUpdate"]
    ctx, pdb = planted("prod", PDB, "mlflow-pdb", lambda i: i["spec"].update(maxUnavailable="150%"))
    found = at(semantics.check(ctx), "int-or-string", pdb)
    assert [f.path for f in found] == ["spec.maxUnavailable"] and "above 100%" in found[0].message
