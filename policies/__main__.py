"""The mlops-governance policy pack (Pulumi CrossGuard).

    pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
    mlops check prod

The rules live in :mod:`policies.rules` (one module per service, each rule's metadata on its check);
:mod:`policies.pack` turns them into policies. This entry point is the one place that installs the fast
analyzer servicer (:mod:`policies.fastpath`).
"""

import sys
from pathlib import Path

try:
    import policies.rules  # noqa: F401 - the package is importable when the distribution is installed
except ImportError:  # run as a plain script from policies/ without the distribution installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.fastpath import install as install_fast_servicer
from policies.pack import PACK_DESCRIPTION, PACK_NAME, build_policies

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
