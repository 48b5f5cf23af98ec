"""The rules as the pack runs them (policies/pack.py): the baseline is compliant in every environment, the
environment and the config a rule sees, secrets, preview unknowns and concurrent requests, driven through
the real analyzer protocol against the running pack. Each rule's own cases: tests/policies/rules/."""

from __future__ import annotations

from policybaseline import baseline, container
from policytest import Checker, aws_provider, resource


def test_baseline_is_compliant_in_every_environment(checker: Checker) -> None:
    for env in ("dev", "staging", "prod"):
        result = checker.run(baseline(env), env)
        assert result.violations == [], [(v.policy, v.name, v.message) for v in result.violations]
        assert result.undetermined == []


def test_resource_tag_environment_overrides_config(checker: Checker) -> None:
    # dev config, but the provider's default tags say prod: prod thresholds apply.
    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["backupRetentionPeriod"] = 7
    result = checker.run([aws_provider("prod"), db], "dev")
    assert result.by_policy("rds-backup-retention")
    result = checker.run([aws_provider("dev"), db], "dev")
    assert not result.by_policy("rds-backup-retention")


def test_dev_makes_relaxed_rules_advisory(checker: Checker) -> None:
    dep = resource(
        "kubernetes:apps/v1:Deployment",
        "d",
        {
            "metadata": {"namespace": "apps"},
            "spec": {
                "template": {
                    "spec": {
                        "securityContext": {"runAsNonRoot": True},
                        "containers": [container(probes=False)],
                    }
                }
            },
        },
    )
    result = checker.run([dep], "dev")
    assert [(v.policy, v.enforcement) for v in result.violations] == [("k8s-probes", "advisory")]
    result = checker.run([dep], "prod")
    assert [(v.policy, v.enforcement) for v in result.violations] == [("k8s-probes", "mandatory")]


def test_secret_inputs_reach_the_pack_wrapped_and_are_not_reported(checker: Checker) -> None:
    from mlops_platform.mlops.graph import Secret

    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["password"] = Secret("s3cr3t-value")
    result = checker.run([aws_provider("prod"), db], "prod")
    hits = result.by_policy("rds-managed-master-password")
    assert hits and all("s3cr3t-value" not in v.message for v in result.violations)


def test_secret_values_are_scrubbed_from_any_message(checker: Checker) -> None:
    from mlops_platform.mlops.graph import Secret

    # A rule that quotes a value (the canned ACL) never reveals it when the value is a secret.
    bucket = resource("aws:s3/bucket:Bucket", "b", {"bucket": "b", "acl": Secret("public-read")})
    result = checker.run([aws_provider("prod"), bucket], "prod")
    messages = [v.message for v in result.by_policy("s3-no-public-acl")]
    assert messages and all("public-read" not in m and "[secret]" in m for m in messages)


def test_unknown_values_make_a_rule_undetermined_not_violated(checker: Checker) -> None:
    # During a preview the engine sends unknowns; a verdict that may depend on one is deferred.
    db = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    db.inputs["storageEncrypted"] = "@unknown"
    result = checker.run([aws_provider("prod"), db], "prod")
    assert not result.by_policy("rds-encrypted-cmk")
    assert "rds-encrypted-cmk" in {v.policy for v in result.undetermined}
    # Rules that find nothing wrong stay quiet even with unknowns around.
    assert "rds-not-public" not in {v.policy for v in result.undetermined}
    # A violation that does not rest on the unknown value is reported as such, even during a preview.
    db.inputs["publiclyAccessible"] = True
    result = checker.run([aws_provider("prod"), db], "prod")
    assert result.by_policy("rds-not-public")


def test_stack_rule_with_unknown_policy_is_undetermined(checker: Checker) -> None:
    graph = baseline()
    policy = next(r for r in graph.resources if r.name == "artifacts-policy")
    policy.outputs["policy"] = "@unknown"
    policy.inputs["policy"] = "@unknown"
    result = checker.run(graph, "prod")
    assert not result.by_policy("s3-bucket-tls-only")
    assert "s3-bucket-tls-only" in {v.policy for v in result.undetermined}


def test_concurrent_requests_do_not_mix_resources(checker: Checker) -> None:
    # The pack serves Analyze calls on several threads; pipelined requests must give the sequential verdicts.
    from policytest import config_for, graph_of

    from mlops_platform.mlops.analyzer import analyze_with

    prod, dev = aws_provider("prod", name="prod"), aws_provider("dev", name="dev")
    template = next(r for r in baseline().resources if r.type == "aws:rds/instance:Instance")
    resources = [prod, dev]
    for i in range(120):
        provider = prod if i % 2 else dev
        db = resource(
            "aws:rds/instance:Instance",
            f"db-{i}",
            {**template.inputs, "backupRetentionPeriod": 7, "kmsKeyId": "@unknown" if i % 3 == 0 else "k"},
            provider=provider,
        )
        resources.append(db)
    graph = graph_of(resources)

    def verdicts(window: int) -> list[tuple[str, str, str]]:
        result = analyze_with(checker.stub, graph, config=config_for("dev"), window=window)
        return sorted((v.policy, v.name, v.enforcement) for v in [*result.violations, *result.undetermined])

    sequential = verdicts(1)
    assert verdicts(64) == sequential
    flagged = {name for policy, name, _ in sequential if policy == "rds-backup-retention"}
    assert flagged == {f"db-{i}" for i in range(120) if i % 2}
