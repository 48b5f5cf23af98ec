"""mlops_platform.components.kubernetes: the restricted security contexts every pod of the platform's own runs with."""

from __future__ import annotations

from pulumi.runtime.rpc import serialize_property
from pulumi.runtime.sync_await import _sync_await

from mlops_platform.components.kubernetes import restricted_container, restricted_pod


def _plain(args: object) -> object:
    return _sync_await(serialize_property(args, [], None))


def test_restricted_pod_runs_as_the_uid_with_runtime_default_seccomp() -> None:
    assert _plain(restricted_pod(10001)) == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_restricted_container_drops_everything_pod_security_restricted_asks_for() -> None:
    assert _plain(restricted_container(10001)) == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
