"""The reference pipeline's step contract, defined once: what each step is called with and what it writes.

Each step is one ``python -m reference_pipeline <step> --<input> <value> ... --outputs-dir /tmp/outputs``
process in the step image (docker/pipeline/). The WorkflowTemplate (:mod:`.reference`) renders these
commands and arguments into its container templates; the local run (mlops/local/pipeline.py) runs what the
rendered manifest says, so a step called differently here is called differently in both places.

Inputs are Argo input parameters (``{{inputs.parameters.<name>}}``); outputs are files under
:data:`OUTPUTS_DIR`, one per output parameter, that Argo reads back with ``valueFrom.path``. Steps exchange
S3 and MLflow URIs through them, never state hidden in a volume.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The step package inside the image (docker/pipeline/reference_pipeline/).
STEP_MODULE = "reference_pipeline"
#: The interpreter on the image's PATH.
STEP_COMMAND = ("python", "-m", STEP_MODULE)
#: The writable emptyDir of every step pod (the root filesystem is read-only).
SCRATCH_MOUNT = "/tmp"
#: Where a step writes its output parameters, one file per output (under the scratch emptyDir).
OUTPUTS_DIR = f"{SCRATCH_MOUNT}/outputs"


def argo(expression: str) -> str:
    """An Argo template expression: ``{{<expression>}}``."""
    return "{{" + expression + "}}"


@dataclass(frozen=True)
class Step:
    """One step: its name (the template's and the DAG task's), its input and output parameters.

    Attributes:
        name: The step's name, also the first argument of the step program.
        inputs: Input parameter names, passed as ``--<name> {{inputs.parameters.<name>}}``.
        outputs: Output parameter names, written by the step to ``OUTPUTS_DIR/<name>``.
        workflow_args: Extra arguments naming the running workflow (Argo global variables).
        mlflow: Whether the step talks to MLflow (only then it gets the MLflow credentials).
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    workflow_args: tuple[tuple[str, str], ...] = ()
    mlflow: bool = True

    def args(self) -> list[str]:
        """The container arguments: the step, its inputs, the workflow variables, the outputs directory."""
        args = [self.name]
        for name in self.inputs:
            args += [f"--{name}", argo(f"inputs.parameters.{name}")]
        for option, variable in self.workflow_args:
            args += [f"--{option}", variable]
        return [*args, "--outputs-dir", OUTPUTS_DIR]

    def output_path(self, output: str) -> str:
        return f"{OUTPUTS_DIR}/{output}"


_WORKFLOW = (("workflow-name", argo("workflow.name")), ("workflow-uid", argo("workflow.uid")))

PREPARE = Step(
    "prepare",
    inputs=("dataset", "test-size", "random-seed", "data-uri"),
    outputs=("dataset-uri", "dataset-sha256", "train-uri", "test-uri"),
    mlflow=False,
)
TRAIN = Step(
    "train",
    inputs=(
        "train-uri",
        "dataset-uri",
        "dataset-sha256",
        "regularization",
        "max-iter",
        "random-seed",
        "git-commit",
    ),
    outputs=("run-id", "model-uri"),
    workflow_args=_WORKFLOW,
)
EVALUATE = Step(
    "evaluate",
    inputs=("run-id", "model-uri", "test-uri", "min-accuracy", "min-f1"),
    outputs=("accuracy", "f1"),
)
REGISTER = Step(
    "register",
    inputs=("run-id", "model-uri", "dataset-uri", "dataset-sha256", "git-commit", "data-classification"),
    outputs=("model-version",),
    workflow_args=_WORKFLOW,
)
#: The steps in DAG order: each depends on the one before.
STEPS = (PREPARE, TRAIN, EVALUATE, REGISTER)

#: The lineage tags the register step puts on every model version (docker/pipeline/reference_pipeline/
#: register.py writes them; a test keeps the two equal): what a promotion gate checks and what it takes to
#: rebuild the version.
LINEAGE_TAGS = (
    "lineage.git_commit",
    "lineage.dataset_uri",
    "lineage.dataset_sha256",
    "lineage.workflow_name",
    "lineage.workflow_uid",
    "lineage.data_classification",
    "lineage.model_digest",
    "lineage.image",
    "lineage.image_digest",
)
#: The alias the register step moves to the new version of the candidates model.
CANDIDATE_ALIAS = "candidate"
