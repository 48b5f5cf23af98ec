"""``mlops check``: the stack's own environment picks the policy config, whatever the stack is called.

The environment comes from the stack's ``<project>:environment`` key and its ``environment`` governance tags
(``aws:defaultTags``, the AWS providers' default tags, resources' own tags), the strictest when they differ;
``--config`` overrides; a stack that declares none, or one without a config, is refused with exit 2.
``s3-bucket-versioning`` is advisory in dev.json and mandatory in prod.json, so the level it is reported at
shows which config the pack was given.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.cli import main

PROGRAM = """
import pulumi
import pulumi_aws as aws

provider = aws.Provider("team-aws", region="eu-west-1", default_tags={provider_tags})
bucket = aws.s3.Bucket(
    "data",
    tags={bucket_tags},
    opts=pulumi.ResourceOptions(provider=provider),
)
pulumi.export("bucket", bucket.id)
"""

GOVERNANCE = {
    "owner": "fraud-ml",
    "cost-center": "cc-ml-2001",
    "data-classification": "confidential",
    "managed-by": "pulumi",
}


def _project(
    tmp_path: Path,
    *,
    stack_config: dict[str, object],
    provider_env: str | None = None,
    bucket_env: str | None = None,
) -> Path:
    """A consumer project ``bare`` with one bucket and a stack named ``sandbox``."""
    root = tmp_path / "bare"
    root.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: bare\nruntime: python\nmain: .\n")
    provider_tags = dict(GOVERNANCE, **({"environment": provider_env} if provider_env else {}))
    bucket_tags = {"environment": bucket_env} if bucket_env else {}
    (root / "__main__.py").write_text(
        textwrap.dedent(PROGRAM).format(
            provider_tags=repr({"tags": provider_tags}), bucket_tags=repr(bucket_tags)
        )
    )
    (root / "Pulumi.sandbox.yaml").write_text(
        json.dumps({"config": {"aws:region": "eu-west-1", **stack_config}})
    )
    return root


def _versioning_level(root: Path, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "report.json"
    code = main(["--root", str(root), "check", "sandbox", "--format", "json", "--output", str(out), *extra])
    assert code in (0, 1)
    levels = {
        v["enforcement"]
        for v in json.loads(out.read_text())["violations"]
        if v["policy"] == "s3-bucket-versioning"
    }
    assert len(levels) == 1, levels
    return levels.pop()


@pytest.mark.parametrize(
    ("stack_config", "provider_env", "bucket_env", "level"),
    [
        pytest.param({"bare:environment": "dev"}, None, None, "advisory", id="key-dev"),
        pytest.param({"bare:environment": "prod"}, None, None, "mandatory", id="key-prod"),
        pytest.param({}, "dev", None, "advisory", id="provider-tag-dev"),
        pytest.param(
            {"aws:defaultTags": {"tags": {"environment": "dev"}}},
            None,
            None,
            "advisory",
            id="stack-default-tags",
        ),
        # Declarations that disagree: the strictest wins, so a disagreement never weakens the check.
        pytest.param({"bare:environment": "dev"}, "dev", "prod", "mandatory", id="resource-tag-stricter"),
        pytest.param({"bare:environment": "prod"}, "dev", None, "mandatory", id="key-stricter"),
    ],
)
def test_a_stack_of_any_name_is_checked_with_its_own_environment(
    tmp_path: Path,
    stack_config: dict[str, object],
    provider_env: str | None,
    bucket_env: str | None,
    level: str,
) -> None:
    root = _project(tmp_path, stack_config=stack_config, provider_env=provider_env, bucket_env=bucket_env)
    assert _versioning_level(root, tmp_path) == level


def test_config_overrides_the_stack_environment(tmp_path: Path) -> None:
    root = _project(tmp_path, stack_config={"bare:environment": "dev"}, provider_env="dev")
    prod = REPO_ROOT / "policies" / "config" / "prod.json"
    assert _versioning_level(root, tmp_path, "--config", str(prod)) == "mandatory"
    dev = REPO_ROOT / "policies" / "config" / "dev.json"
    root_prod = _project(tmp_path / "p", stack_config={"bare:environment": "prod"}, provider_env="prod")
    assert _versioning_level(root_prod, tmp_path, "--config", str(dev)) == "advisory"


@pytest.mark.parametrize(
    ("stack_config", "provider_env", "bucket_env", "expected"),
    [
        pytest.param(
            {},
            None,
            None,
            [
                "Pulumi.sandbox.yaml: mlops check cannot tell the stack's environment, so not which policy "
                "config to use: set `bare:environment` (dev, staging or prod) or the `environment` tag in "
                "`aws:defaultTags` in this file, or pass --config FILE"
            ],
            id="none-declared",
        ),
        pytest.param(
            {"bare:environment": "sandbox"},
            None,
            None,
            [
                "Pulumi.sandbox.yaml: bare:environment: environment 'sandbox' has no policy config; "
                "allowed: dev, staging or prod (or pass --config FILE)"
            ],
            id="key-unknown",
        ),
        pytest.param(
            {"bare:environment": "dev ", "aws:defaultTags": {"tags": {"environment": "qa"}}},
            "qa",
            None,
            [
                "Pulumi.sandbox.yaml: bare:environment: environment 'dev ' has no policy config; "
                "allowed: dev, staging or prod (or pass --config FILE)",
                "Pulumi.sandbox.yaml: aws:defaultTags tags.environment: environment 'qa' (and 1 more "
                "place(s)) has no policy config; allowed: dev, staging or prod (or pass --config FILE)",
            ],
            id="key-and-tags-unknown",
        ),
        pytest.param(
            {"bare:environment": "dev"},
            None,
            "Prod",
            [
                "__main__.py:6: aws:s3/bucket:Bucket 'data' tags.environment: environment 'Prod' has no "
                "policy config; allowed: dev, staging or prod (or pass --config FILE)"
            ],
            id="resource-tag-unknown",
        ),
    ],
)
def test_an_undeclared_or_unknown_environment_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stack_config: dict[str, object],
    provider_env: str | None,
    bucket_env: str | None,
    expected: list[str],
) -> None:
    root = _project(tmp_path, stack_config=stack_config, provider_env=provider_env, bucket_env=bucket_env)
    assert main(["--root", str(root), "check", "sandbox"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == expected


def test_an_undeclared_environment_passes_with_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, stack_config={})
    dev = REPO_ROOT / "policies" / "config" / "dev.json"
    assert main(["--root", str(root), "check", "sandbox", "--config", str(dev), "--format", "json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["stack"] == "sandbox"
