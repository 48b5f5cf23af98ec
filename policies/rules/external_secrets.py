"""External Secrets Operator objects: no ExternalSecret syncs an RDS-managed master secret into the cluster."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_platform.policies.rules._common import Ctx, Res
from mlops_platform.policies.rules._registry import resource_rule

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def _remote_keys(spec: dict) -> list[str]:
    keys = [
        str((d.get("remoteRef") or {}).get("key")) for d in (spec.get("data") or []) if isinstance(d, dict)
    ]
    keys += [
        str((d.get("extract") or d.get("find") or {}).get("key"))
        for d in (spec.get("dataFrom") or [])
        if isinstance(d, dict) and (d.get("extract") or d.get("find"))
    ]
    return keys


@resource_rule(
    "secrets-no-rds-master-sync",
    EXTERNAL_SECRET,
    description=(
        "No ExternalSecret syncs an RDS-managed master secret (rds!...) into the cluster: applications "
        "connect as their database tenant's role."
    ),
    severity="high",
    remediation="Give the application a DatabaseTenant (components/database/tenant.py) and sync its secret instead.",
)
def no_rds_master_sync(res: Res, ctx: Ctx) -> Iterator[str]:
    spec = res.get("spec") or {}
    for key in _remote_keys(spec if isinstance(spec, dict) else {}):
        # RDS names the master secrets it manages rds!db-<id> (rds!cluster-<id> for Aurora).
        name = key.split(":secret:", 1)[-1]
        if name.startswith("rds!"):
            yield (
                f"the ExternalSecret syncs the RDS-managed master secret {name!r} into the cluster; give the "
                "application a database tenant (its own role and secret) instead"
            )
