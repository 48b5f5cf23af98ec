"""The step image (docker/pipeline/): its pins are the tested environment's, its environment is the one the
local run stands in for, and the step code writes the lineage the component names."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from mlops_platform.components.pipelines import reference, steps

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / reference.IMAGE_BUILD_CONTEXT


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_normalize(name)] = version
    return pins


def _closure(requirements: list[str]) -> dict[str, str]:
    """name -> installed version of ``requirements`` and everything they need, from the venv's metadata."""
    versions: dict[str, str] = {}
    visited: set[tuple[str, str]] = set()
    todo = [(Requirement(line), "") for line in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        dist = metadata.distribution(req.name)
        versions[_normalize(req.name)] = dist.version
        for wanted in ["", *sorted(req.extras)]:
            if (_normalize(req.name), wanted) not in visited:
                visited.add((_normalize(req.name), wanted))
                todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return versions


def test_requirements_are_exact_pins_of_the_repository_constraints() -> None:
    """`make pipeline-local` runs the .venv (installed with -c constraints.txt): the image has its versions."""
    image = _pins(DOCKER / "requirements.txt")
    repo = _pins(ROOT / "constraints.txt")
    assert {"mlflow", "scikit-learn", "numpy", "pandas", "boto3"} <= set(image)
    assert {name: v for name, v in image.items() if repo.get(name) != v} == {}


def test_the_lock_is_the_requirements_closure_at_the_tested_versions() -> None:
    requirements = [
        line
        for line in (DOCKER / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    lock = _pins(DOCKER / "constraints.txt")
    assert _closure(requirements) == lock
    repo = _pins(ROOT / "constraints.txt")
    assert {name: v for name, v in lock.items() if repo.get(name) != v} == {}


def test_the_dockerfile_is_pinned_non_root_wheels_only_and_tagged() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)
    assert base is not None and re.fullmatch(
        r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base.group(1)
    )
    assert re.search(rf"^ARG PIPELINE_UID={reference.IMAGE_UID}$", dockerfile, re.M)
    assert re.search(r"^USER \$\{PIPELINE_UID\}:\$\{PIPELINE_UID\}$", dockerfile, re.M)
    assert "--only-binary=:all: -c /build/constraints.txt -r /build/requirements.txt" in dockerfile
    assert f'org.opencontainers.image.version="{reference.IMAGE_TAG}"' in dockerfile
    assert f"COPY reference_pipeline {reference.IMAGE_SOURCE_DIR}/reference_pipeline" in dockerfile
    assert re.search(r'^ENTRYPOINT \["python", "-m", "reference_pipeline"\]$', dockerfile, re.M)
    assert re.search(rf"^WORKDIR {reference.IMAGE_WORKDIR}$", dockerfile, re.M)


def test_the_dockerfile_sets_the_environment_the_local_run_stands_in_for() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    (env_line,) = [line for line in dockerfile.splitlines() if line.startswith("ENV PATH=")]
    env = dict(item.split("=", 1) for item in env_line.removeprefix("ENV ").split())
    assert env == reference.IMAGE_ENV


def _module_constant(path: Path, name: str) -> object:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} defines no {name}")


def test_the_register_step_writes_the_lineage_tags_the_component_names() -> None:
    register = DOCKER / "reference_pipeline" / "register.py"
    assert _module_constant(register, "LINEAGE_TAGS") == steps.LINEAGE_TAGS
    assert _module_constant(register, "CANDIDATE_ALIAS") == steps.CANDIDATE_ALIAS


def test_every_step_of_the_contract_has_a_module_with_its_options() -> None:
    dispatch = _module_constant(DOCKER / "reference_pipeline" / "__main__.py", "STEPS")
    assert isinstance(dispatch, dict) and set(dispatch) == {s.name for s in steps.STEPS}
    for step in steps.STEPS:
        source = (DOCKER / "reference_pipeline" / f"{step.name}.py").read_text()
        options = set(re.findall(r'add_argument\("--([a-z0-9-]+)"', source))
        expected = {*step.inputs, *(option for option, _ in step.workflow_args)}
        assert options == expected, step.name
