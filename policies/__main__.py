"""The mlops-governance policy pack (Pulumi CrossGuard).

    pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
    mlops check prod

The rules live in :mod:`mlops_platform.policies.rules` (one module per service, each rule's metadata on its check);
:mod:`mlops_platform.policies.pack` turns them into policies. This entry point is the one place that installs the fast
analyzer servicer (:mod:`mlops_platform.policies.fastpath`).
"""

import sys

try:
    import mlops_platform.policies.rules  # noqa: F401 - installed with the distribution (the pack's virtualenv)
except ImportError as exc:  # pragma: no cover - the pack's virtualenv lacks the distribution
    sys.exit(
        f"mlops-governance: {exc}; install the mlops-platform distribution into the pack's virtualenv "
        "(PulumiPolicy.yaml: ../.venv, created by `make venv`)"
    )

from pulumi_policy import EnforcementLevel, PolicyPack

from mlops_platform.policies.fastpath import install as install_fast_servicer
from mlops_platform.policies.pack import PACK_DESCRIPTION, PACK_NAME, build_policies

# Decode each analyzer request once, not once per policy (opt out: MLOPS_POLICY_FASTPATH=0).
install_fast_servicer()

PolicyPack(
    PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description=PACK_DESCRIPTION,
    display_name="MLOps platform governance",
    provider="aws",
    tags=["aws", "kubernetes", "mlops"],
)
