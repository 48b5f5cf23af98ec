"""Building blocks know no platform config: importing every module of mlops_platform.components.monitoring loads neither the
platform's pydantic settings (mlops_platform.components.platform.config) nor pydantic itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MODULES = sorted(
    f"mlops_platform.components.monitoring.{p.stem}"
    for p in (REPO / "components" / "monitoring").glob("*.py")
    if p.stem != "__init__"
)


def test_the_package_has_the_modules_by_concern() -> None:
    assert {m.rsplit(".", 1)[1] for m in MODULES} >= {
        "alarms",
        "alerting",
        "args",
        "charts",
        "dashboards",
        "model_monitoring",
        "monitoring",
        "network_policies",
        "observability",
        "rules",
        "values",
    }


def test_importing_monitoring_loads_no_platform_config() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('pydantic', 'mlops_platform.components.platform')))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
    # The check can see a leak: the wiring does load the config.
    code = "import sys, mlops_platform.components.platform.monitoring; print('mlops_platform.components.platform.config' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
