"""The platform's own Kubernetes objects, as the provider would send them."""

from __future__ import annotations

from mlops_platform.mlops.graph import Graph, Resource, Secret, SourcePosition
from mlops_platform.mlops.verify import kube_schema, semantics
from mlops_platform.mlops.verify.model import VerifyContext
from mlops_platform.mlops.verify.objects import (
    Unknown,
    api_version_of,
    fill_unknowns,
    is_object_resource,
    manifest_of,
    platform_manifests,
)


def _resource(
    type_: str, inputs: dict, outputs: dict | None = None, name: str = "mlops-dev-thing"
) -> Resource:
    return Resource(
        urn=f"urn:pulumi:dev::mlops-platform::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=inputs,
        outputs=outputs or {},
        source=SourcePosition("components/thing.py", 42),
    )


def test_every_kubernetes_object_of_the_platform_and_nothing_else(stack_ctx):
    for stack in ("dev", "prod"):
        graph = stack_ctx(stack).graph
        manifests = platform_manifests(graph)
        expected = [
            r
            for r in graph.resources
            if r.type.startswith("kubernetes:") and "helm.sh" not in r.type and r.custom and not r.is_provider
        ]
        assert [m.resource for m in manifests] == expected
        for manifest in manifests:
            assert (manifest.api_version, manifest.kind) == api_version_of(manifest.resource.type)
            assert manifest.name, manifest.ref()
        refs = {m.ref() for m in manifests}
        assert "apps/v1 Deployment mlflow/mlflow" in refs
        assert "v1 Namespace monitoring" in refs
        assert {"ExternalSecret", "SecretStore", "ServiceMonitor", "PrometheusRule"} <= {
            m.kind for m in manifests
        }


def test_types_map_to_api_versions():
    assert api_version_of("kubernetes:core/v1:ConfigMap") == ("v1", "ConfigMap")
    assert api_version_of("kubernetes:rbac.authorization.k8s.io/v1:Role") == (
        "rbac.authorization.k8s.io/v1",
        "Role",
    )
    assert not is_object_resource(_resource("kubernetes:helm.sh/v3:Release", {}))
    assert not is_object_resource(_resource("kubernetes:core/v1:ConfigMapPatch", {}))
    assert not is_object_resource(_resource("pulumi:providers:kubernetes", {}))
    assert is_object_resource(_resource("kubernetes:core/v1:ConfigMap", {}))


def test_top_level_fields_other_than_spec_are_kept():
    role = manifest_of(
        _resource(
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            {
                "metadata": {"name": "b", "namespace": "default"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "s", "namespace": "default"}],
            },
        )
    )
    assert list(role.obj) == ["apiVersion", "kind", "metadata", "roleRef", "subjects"]
    assert role.obj["apiVersion"] == "rbac.authorization.k8s.io/v1"


def test_auto_named_objects_get_the_provider_name():
    answered = manifest_of(
        _resource(
            "kubernetes:core/v1:ConfigMap", {"data": {}}, outputs={"metadata": {"name": "thing-1a2b3c4d"}}
        )
    )
    assert answered.name == "thing-1a2b3c4d"
    unanswered = manifest_of(_resource("kubernetes:core/v1:ConfigMap", {"data": {}}))
    prefix, _, suffix = unanswered.name.rpartition("-")
    assert prefix == "mlops-dev-thing" and len(suffix) == 8
    assert manifest_of(_resource("kubernetes:core/v1:ConfigMap", {"data": {}})).name == unanswered.name


def test_secrets_are_revealed_for_the_schema_and_never_printed():
    resource = _resource(
        "kubernetes:core/v1:Secret",
        {"metadata": {"name": "s", "namespace": "default"}, "stringData": {"password": Secret(987654321)}},
    )
    manifest = manifest_of(resource)
    assert manifest.obj["stringData"]["password"] == 987654321
    ctx = VerifyContext(graph=Graph("p", "dev", [resource]), stack="dev", kube_version="1.34")
    found = kube_schema.check(ctx)
    assert [(f.check, f.path) for f in found] == [("invalid", "stringData.password")]
    assert "987654321" not in found[0].message and "[secret]" in found[0].message


def test_unknown_values_are_placeholders_of_the_field_type():
    resource = _resource(
        "kubernetes:apps/v1:Deployment",
        {
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "replicas": "@unknown",
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "@unknown",
                                "imagePullPolicy": "@unknown",
                                "resources": {"limits": {"memory": "@unknown"}},
                                "ports": [{"containerPort": "@unknown", "name": "http"}],
                            }
                        ]
                    },
                },
            },
        },
    )
    manifest = manifest_of(resource)
    assert isinstance(manifest.obj["spec"]["replicas"], Unknown)
    ctx = VerifyContext(graph=Graph("p", "dev", [resource]), stack="dev", kube_version="1.34")
    assert kube_schema.check(ctx) == []
    assert semantics.check(ctx) == []
    defs = {"$ref": "#/$defs/io.k8s.api.apps.v1.Deployment"}
    filled = fill_unknowns(manifest.obj, defs, kube_schema.resolver("1.34.0"))
    container = filled["spec"]["template"]["spec"]["containers"][0]
    assert filled["spec"]["replicas"] == 1 and isinstance(container["ports"][0]["containerPort"], int)
    assert isinstance(container["imagePullPolicy"], str) and not isinstance(container["image"], Unknown)
