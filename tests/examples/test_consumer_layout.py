"""A consumer repository with its own regular ``components`` package uses ours beside it.

A common Pulumi project layout keeps the project's own building blocks in ``components/`` (with an
``__init__.py``). Before 0.2.0 our distribution installed a top-level package of the same name, so one of the two
hid the other (the project's folder is first on ``sys.path``). Ours are ``mlops_platform.components``,
``mlops_platform.mlops`` and ``mlops_platform.policies`` now (docs/library.md); this builds such a consumer in a
temporary directory and renders it offline in a fresh interpreter, importing both its own modules and ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_platform.mlops import REPO_ROOT

MAIN = """
import pulumi
from components import naming                      # the consumer's own package
from components.naming import bucket_name

from mlops_platform.components import ArtifactStore, ArtifactStoreArgs, Keys, KeysArgs

keys = Keys("team-a", KeysArgs(prefix=naming.PREFIX))
store = ArtifactStore(
    "team-a-artifacts",
    ArtifactStoreArgs(bucket_name=bucket_name("artifacts"), kms_key_arn=keys.data_key_arn),
)
pulumi.export("bucket", store.bucket_name)
"""

RENDER = """
import json, sys
from pathlib import Path
from mlops_platform.mlops.engine import run_program
from mlops_platform.mlops.stackconfig import load_stack

graph = run_program(load_stack(Path(sys.argv[1]), "dev"), root=Path(sys.argv[1]))
import components
print(json.dumps({
    "types": sorted({r.type for r in graph.resources}),
    "outputs": graph.outputs,
    "consumer_components": components.__file__,
}))
"""


@pytest.fixture()
def consumer(tmp_path: Path) -> Path:
    project = tmp_path / "team-a"
    (project / "components").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: team-a\nruntime: python\nmain: .\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (project / "__main__.py").write_text(textwrap.dedent(MAIN))
    (project / "components" / "__init__.py").write_text('"""team-a\'s own building blocks."""\n')
    (project / "components" / "naming.py").write_text(
        'PREFIX = "team-a"\n\n\ndef bucket_name(purpose: str) -> str:\n'
        '    return f"{PREFIX}-{purpose}-123456789012-eu-west-1"\n'
    )
    return project


def test_a_consumer_with_its_own_components_package_renders_with_ours(consumer: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(consumer)],
        cwd=consumer,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "mlops:artifact_store:ArtifactStore" in result["types"]
    assert "mlops:keys:Keys" in result["types"]
    assert "aws:s3/bucket:Bucket" in result["types"]
    assert result["outputs"]["bucket"] == "team-a-artifacts-123456789012-eu-west-1"
    # The consumer's `components` is its own folder, not ours.
    assert (
        Path(result["consumer_components"]).resolve() == (consumer / "components" / "__init__.py").resolve()
    )


def test_our_import_names_are_namespaced() -> None:
    """No top-level `components`, `mlops` or `policies` comes from this distribution."""
    import tomllib

    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p.startswith("mlops_platform.") for p in setuptools["packages"])
    assert set(setuptools["package-dir"]) == {
        "mlops_platform.components",
        "mlops_platform.mlops",
        "mlops_platform.policies",
    }
