"""The mlops-governance policy pack (Pulumi CrossGuard).

    pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
    mlops check prod

The rules live in :mod:`policies.rules` (one module per service, metadata in the catalogue).
"""

import sys
from pathlib import Path

try:
    import policies.rules  # noqa: F401 - the package is importable when the distribution is installed
except ImportError:  # run as a plain script from policies/ without the distribution installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.rules import ALL_POLICIES, PACK_DESCRIPTION, PACK_NAME

PolicyPack(
    PACK_NAME,
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description=PACK_DESCRIPTION,
    display_name="MLOps platform governance",
    provider="aws",
    tags=["aws", "kubernetes", "mlops"],
)
