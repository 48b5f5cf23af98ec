"""The environment a rule judges by, and the values it judges with, through the real analyzer protocol.

- The stack's environment reaches the pack in ``ConfigureStack`` (its ``config`` and ``tags``, as the engine
  sends them); the pack judges by the strictest of the stack's environment, the resource's ``environment``
  tag and the policy config's ``environment`` (dev < staging < prod).
- Without ``--policy-pack-config`` (a bare ``pulumi preview --policy-pack policies``) every property takes
  the catalogue's value for that environment, never the weakest one.
- A policy config naming a property (or a policy) the pack does not have is refused, not ignored.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from policytest import (
    GOVERNANCE,
    NO_POLICY_CONFIG,
    PROJECT,
    Checker,
    aws_provider,
    config_for,
    resource,
    stack_environment,
)
from pulumi.runtime.proto import analyzer_pb2

from mlops_platform.mlops import REPO_ROOT
from mlops_platform.mlops.analyzer import AnalyzerError, analyze_with, engine_stack_tags
from mlops_platform.mlops.graph import Graph, Resource
from mlops_platform.mlops.stackconfig import load_stack
from mlops_platform.policies.rules._common import ENVIRONMENTS, Ctx, resolve_environment, stricter
from mlops_platform.policies.rules.catalogue import CATALOGUE
from mlops_platform.policies.servicer import config_problems
from mlops_platform.policies.servicer import stack_environment as pack_stack_environment

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _value(rule: str, prop: str, env: str) -> Any:
    return CATALOGUE[rule].props[prop].for_env(env)


# --------------------------------------------------------------------------------------------------
# Probes: for each environment, resources the rule must flag and resources it must pass, built from the
# catalogue's values for that environment, so the verdicts pin the value the rule actually used.
# --------------------------------------------------------------------------------------------------

Probe = Callable[[str], list[tuple[Resource, bool]]]
"""``probe(env)`` -> ``[(resource, the rule must report it)]``."""


def _log_groups(env: str) -> list[tuple[Resource, bool]]:
    minimum = int(_value("logs-retention", "minimumDays", env))
    log = "aws:cloudwatch/logGroup:LogGroup"
    return [
        (resource(log, "logs-short", {"retentionInDays": minimum - 1, "kmsKeyId": KEY_ARN}), True),
        (resource(log, "logs-enough", {"retentionInDays": minimum, "kmsKeyId": KEY_ARN}), False),
    ]


def _concrete(pattern: str) -> str:
    return pattern.replace("*", "48xlarge")


def _node_groups(env: str) -> list[tuple[Resource, bool]]:
    allowed = [str(p) for p in _value("eks-approved-instance-types", "allowedInstanceTypes", env)]
    others = [
        _concrete(str(p))
        for other in ENVIRONMENTS
        if other != env
        for p in _value("eks-approved-instance-types", "allowedInstanceTypes", other)
    ]
    refused = [t for t in others if not any(fnmatch.fnmatchcase(t, p) for p in allowed)]
    assert refused, f"every other environment's instance type is allowed in {env}: the probe proves nothing"
    node = "aws:eks/nodeGroup:NodeGroup"
    return [
        (resource(node, "nodes-elsewhere", {"instanceTypes": [refused[0]]}), True),
        (resource(node, "nodes-approved", {"instanceTypes": [_concrete(allowed[0])]}), False),
    ]


def _minimum_days(rule: str, env: str) -> int:
    return int(_value(rule, "minimumDaysProd" if env == "prod" else "minimumDays", env))


def _databases(env: str) -> list[tuple[Resource, bool]]:
    minimum = _minimum_days("rds-backup-retention", env)
    db = "aws:rds/instance:Instance"
    return [
        (resource(db, "db-short", {"backupRetentionPeriod": minimum - 1}), True),
        (resource(db, "db-enough", {"backupRetentionPeriod": minimum}), False),
    ]


def _keys(env: str) -> list[tuple[Resource, bool]]:
    minimum = _minimum_days("kms-deletion-window", env)
    key = "aws:kms/key:Key"
    return [
        (resource(key, "key-short", {"deletionWindowInDays": minimum - 1}), True),
        (resource(key, "key-enough", {"deletionWindowInDays": minimum}), False),
    ]


PROBES: dict[tuple[str, tuple[str, ...]], Probe] = {
    ("logs-retention", ("minimumDays",)): _log_groups,
    ("eks-approved-instance-types", ("allowedInstanceTypes",)): _node_groups,
    ("rds-backup-retention", ("minimumDays", "minimumDaysProd")): _databases,
    ("kms-deletion-window", ("minimumDays", "minimumDaysProd")): _keys,
}
"""Every property whose value, or whose use, depends on the environment."""


def test_every_per_environment_property_has_a_probe() -> None:
    probed = {(rule, prop) for (rule, props), _ in PROBES.items() for prop in props}
    per_env = {
        (rule, prop)
        for rule, meta in CATALOGUE.items()
        for prop, spec in meta.props.items()
        if spec.per_env is not None and len({json.dumps(spec.for_env(e)) for e in ENVIRONMENTS}) > 1
    }
    assert per_env, "the catalogue declares no per-environment property any more: revisit this test"
    assert per_env <= probed, f"add a probe for {sorted(per_env - probed)}"
    # The pairs (minimumDays in dev/staging, minimumDaysProd in prod) are per-environment by use.
    for rule, props in PROBES:
        assert set(props) <= set(CATALOGUE[rule].props), rule


def _untagged_provider() -> Resource:
    return aws_provider(tags=dict(GOVERNANCE))  # no `environment` tag: only the stack can say


WAYS: dict[str, Callable[[str], dict[str, Any]]] = {
    # The platform's own key, as `mlops-platform:environment` in Pulumi.<stack>.yaml.
    "stack config": lambda env: {"provider": _untagged_provider(), "stack_config": stack_environment(env)},
    # A consumer project keeps its own keys under its project's namespace.
    "project config": lambda env: {
        "provider": _untagged_provider(),
        "stack_config": stack_environment(env, namespace=PROJECT),
    },
    # `pulumi stack tag set environment <env>`, or the stack file's `pulumi:tags`.
    "stack tag": lambda env: {
        "provider": _untagged_provider(),
        "stack_tags": {"pulumi:project": PROJECT, "environment": env},
    },
    # The resource's own tag (the provider's default tags), the stack saying nothing.
    "resource tag": lambda env: {"provider": aws_provider(env)},
}


def _verdicts(result: Any, rule: str) -> set[str]:
    return {v.name for v in result.by_policy(rule)}


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_without_a_policy_config_every_property_follows_the_environment(
    checker: Checker, env: str, way: str
) -> None:
    given = WAYS[way](env)
    for (rule, _), probe in PROBES.items():
        cases = probe(env)
        result = checker.run(
            [given["provider"], *(r for r, _ in cases)],
            env,
            config=NO_POLICY_CONFIG,
            stack_config=given.get("stack_config"),
            stack_tags=given.get("stack_tags"),
        )
        flagged = _verdicts(result, rule)
        expected = {r.name for r, fires in cases if fires}
        assert flagged == expected, (
            f"{rule} in {env} ({way}, no policy config): flagged {sorted(flagged)}, expected {sorted(expected)}"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_probes_agree_with_the_generated_config(checker: Checker, env: str) -> None:
    # The same verdicts with policies/config/<env>.json: the probes measure what the config sets.
    for (rule, _), probe in PROBES.items():
        cases = probe(env)
        result = checker.run([aws_provider(env), *(r for r, _ in cases)], env)
        assert _verdicts(result, rule) == {r.name for r, fires in cases if fires}, (rule, env)


def test_the_message_names_the_environment_judged(checker: Checker) -> None:
    log = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 30, "kmsKeyId": KEY_ARN})
    result = checker.run(
        [_untagged_provider(), log], config=NO_POLICY_CONFIG, stack_config=stack_environment("prod")
    )
    assert [v.message for v in result.by_policy("logs-retention")] == [
        "retentionInDays is 30; at least 365 required in prod"
    ]


# --------------------------------------------------------------------------------------------------
# The stricter of the stack's environment and the resource's
# --------------------------------------------------------------------------------------------------


def _relaxed_prod_resources() -> list[Resource]:
    """What prod refuses and dev allows: 7 days of backups, no deletion protection, an unprotected bucket."""
    return [
        resource(
            "aws:rds/instance:Instance",
            "db",
            {"backupRetentionPeriod": 7, "deletionProtection": False, "multiAz": False},
        ),
        resource("aws:s3/bucket:Bucket", "bucket", {"bucket": "bucket"}),
    ]


PROD_ONLY = {"rds-backup-retention", "rds-deletion-protection", "rds-multi-az", "stack-stateful-protected"}


def _prod_only(result: Any) -> set[str]:
    return {v.policy for v in result.violations} & PROD_ONLY


@pytest.mark.parametrize(
    ("stack", "tag", "judged"),
    [
        ("prod", "dev", "prod"),  # dev tags in a prod stack relax nothing
        ("prod", "staging", "prod"),
        ("dev", "prod", "prod"),  # a prod resource in a dev stack is still judged as prod
        ("staging", "prod", "prod"),
        ("dev", "dev", "dev"),
        ("dev", "staging", "staging"),
        ("staging", "dev", "staging"),
    ],
)
@pytest.mark.parametrize("told_by", ["stack config", "stack tag"])
def test_the_stricter_of_the_stacks_and_the_resources_environment(
    checker: Checker, stack: str, tag: str, judged: str, told_by: str
) -> None:
    told = (
        {"stack_config": stack_environment(stack)}
        if told_by == "stack config"
        else {"stack_tags": {"pulumi:project": PROJECT, "environment": stack}}
    )
    # The config file `mlops check <stack>` passes: its own `environment` is the stack's too.
    result = checker.run([aws_provider(tag), *_relaxed_prod_resources()], stack, **told)
    if judged == "prod":
        assert _prod_only(result) == PROD_ONLY, [(v.policy, v.message) for v in result.violations]
        (backup,) = result.by_policy("rds-backup-retention")
        assert backup.message == "backupRetentionPeriod is 7 days; prod needs at least 14"
    else:
        assert _prod_only(result) == set(), [(v.policy, v.message) for v in result.violations]


def test_without_any_environment_the_pack_judges_prod(checker: Checker) -> None:
    result = checker.run([_untagged_provider(), *_relaxed_prod_resources()], config=NO_POLICY_CONFIG)
    assert _prod_only(result) == PROD_ONLY


@pytest.mark.parametrize(
    ("envs", "expected"),
    [
        ((), None),
        ((None, ""), None),
        (("dev",), "dev"),
        (("dev", "staging"), "staging"),
        (("prod", "dev"), "prod"),
        (("staging", None, "dev"), "staging"),
        (("qa",), "prod"),  # not an environment: the strictest
        (("dev", "Dev"), "prod"),
    ],
)
def test_stricter(envs: tuple[str | None, ...], expected: str | None) -> None:
    assert stricter(*envs) == expected


@pytest.mark.parametrize(
    ("tag", "stack", "configured", "expected"),
    [
        (None, None, None, "prod"),
        ("dev", None, None, "dev"),
        (None, "staging", None, "staging"),
        (None, None, "dev", "dev"),
        ("dev", "prod", "dev", "prod"),
        ("prod", "dev", "dev", "prod"),
        ("dev", "dev", "staging", "staging"),
    ],
)
def test_resolve_environment(
    tag: str | None, stack: str | None, configured: str | None, expected: str
) -> None:
    tags = {"environment": tag} if tag else {}
    config = {"environment": configured} if configured else {}
    assert resolve_environment(tags, config, stack) == expected


@pytest.mark.parametrize(
    ("project", "config", "tags", "expected"),
    [
        ("mlops-platform", {"mlops-platform:environment": "staging"}, {}, "staging"),
        ("acme-ml", {"mlops-platform:environment": "dev"}, {}, "dev"),  # a consumer: the platform's key
        ("acme-ml", {"acme-ml:environment": "staging"}, {}, "staging"),  # ... or its own namespace
        ("acme-ml", {"acme-ml:environment": "dev", "mlops-platform:environment": "prod"}, {}, "prod"),
        ("acme-ml", {}, {"environment": "staging"}, "staging"),
        ("acme-ml", {"mlops-platform:environment": "dev"}, {"environment": "prod"}, "prod"),
        ("acme-ml", {"other:environment": "dev", "aws:region": "eu-west-1"}, {"team": "x"}, None),
    ],
)
def test_the_stacks_environment_from_configure_stack(
    project: str, config: dict[str, str], tags: dict[str, str], expected: str | None
) -> None:
    assert pack_stack_environment(project, config, tags) == expected


def test_a_property_absent_from_the_config_takes_the_rules_default() -> None:
    ctx = Ctx({"minimumDays": 3}, "prod", defaults={"minimumDays": 365, "other": [1]})
    assert ctx.get("minimumDays") == 3 and ctx.get("other") == [1]
    assert Ctx({"minimumDays": None}, "prod", defaults={"minimumDays": 365}).get("minimumDays") == 365
    with pytest.raises(KeyError, match="'typo' is neither in the policy config nor a property of the rule"):
        ctx.get("typo")
    assert ctx.get("typo", "fallback") == "fallback"


# --------------------------------------------------------------------------------------------------
# ConfigureStack as the engine sends it
# --------------------------------------------------------------------------------------------------


def _project(tmp_path: Path, stack_doc: dict[str, Any], name: str = "acme-ml") -> Path:
    import yaml

    (tmp_path / "Pulumi.yaml").write_text(
        yaml.safe_dump({"name": name, "runtime": {"name": "python"}, "description": "An ML project"})
    )
    (tmp_path / "Pulumi.sandbox.yaml").write_text(yaml.safe_dump(stack_doc))
    return tmp_path


def test_stack_tags_come_from_the_project_and_the_stack_files_pulumi_tags(tmp_path: Path) -> None:
    root = _project(tmp_path, {"config": {"pulumi:tags": {"environment": "prod", "team": "ml"}}})
    assert engine_stack_tags(load_stack(root, "sandbox")) == {
        "pulumi:project": "acme-ml",
        "pulumi:runtime": "python",
        "pulumi:description": "An ML project",
        "environment": "prod",
        "team": "ml",
    }
    plain = _project(tmp_path, {"config": {"acme-ml:environment": "dev"}})
    assert engine_stack_tags(load_stack(plain, "sandbox")) == {
        "pulumi:project": "acme-ml",
        "pulumi:runtime": "python",
        "pulumi:description": "An ML project",
    }


@pytest.mark.parametrize(
    ("tags", "lines"),
    [
        (
            ["environment", "prod"],
            ['Pulumi.sandbox.yaml: pulumi:tags: \'["environment","prod"]\' is not an object'],
        ),
        ("prod", ["Pulumi.sandbox.yaml: pulumi:tags: 'prod' is not an object"]),
        (
            {"environment": "prod", "tier": 1, "on": True},
            [
                "Pulumi.sandbox.yaml: pulumi:tags.on: true is not a string",
                "Pulumi.sandbox.yaml: pulumi:tags.tier: 1 is not a string",
            ],
        ),
    ],
)
def test_malformed_pulumi_tags_are_refused_one_line_each(tmp_path: Path, tags: Any, lines: list[str]) -> None:
    root = _project(tmp_path, {"config": {"pulumi:tags": tags}})
    with pytest.raises(AnalyzerError) as err:
        engine_stack_tags(load_stack(root, "sandbox"))
    got = str(err.value).splitlines()
    assert len(got) == len(lines) and all(g.startswith(w) for g, w in zip(got, lines, strict=True)), got


def test_the_shipped_stack_files_environment_reaches_the_pack(checker: Checker) -> None:
    # Pulumi.prod.yaml as `mlops check` sends it; a resource whose tags say dev is still judged as prod.
    stack_file = load_stack(REPO_ROOT, "prod")
    log = resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 30, "kmsKeyId": KEY_ARN})
    graph = Graph(project=stack_file.project.name, stack="prod", resources=[aws_provider("dev"), log])
    result = analyze_with(
        checker.stub,
        graph,
        config=NO_POLICY_CONFIG,
        stack_config=dict(stack_file.values),
        secret_keys=list(stack_file.secret_keys),
        stack_tags=engine_stack_tags(stack_file),
    )
    assert [v.message for v in result.by_policy("logs-retention")] == [
        "retentionInDays is 30; at least 365 required in prod"
    ]


def test_check_sends_the_stack_files_config_and_tags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_platform.mlops import analyzer, cli

    sent: dict[str, Any] = {}

    def record(stub: Any, graph: Graph, **kwargs: Any) -> Any:
        sent.update(kwargs)
        raise AnalyzerError("recorded")

    graph = Graph(project="mlops-platform", stack="prod", resources=[])
    monkeypatch.setattr(cli, "_render", lambda stack, root, **_: (graph, None))
    monkeypatch.setattr(analyzer, "analyze_with", record)
    monkeypatch.setattr(analyzer, "pack_process", _no_pack)
    assert cli.main(["check", "prod"]) == 2
    assert capsys.readouterr().err == "recorded\n"
    assert sent["stack_config"]["mlops-platform:environment"] == "prod"
    assert sent["stack_tags"] == {
        "pulumi:project": "mlops-platform",
        "pulumi:runtime": "python",
        "pulumi:description": _description(),
    }


def _description() -> str:
    import yaml

    return str(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["description"])


class _NoPack:
    def connect(self) -> None:
        return None


def _no_pack(pack_dir: Path) -> Any:
    from contextlib import nullcontext

    return nullcontext(_NoPack())


# --------------------------------------------------------------------------------------------------
# Unknown properties in a rule's policy config
# --------------------------------------------------------------------------------------------------


def test_config_problems_name_the_rule_the_property_and_the_known_ones() -> None:
    environment = {"type": "string", "enum": ["dev", "staging", "prod"]}
    known = {
        "logs-retention": {"environment": environment, "minimumDays": {"type": "integer", "minimum": 0}},
        "rds-not-public": {"environment": environment},
    }
    assert config_problems({"logs-retention": {"minimumDays": 30, "environment": "dev"}}, known) == []
    assert config_problems({"all": {}, "rds-not-public": {}}, known) == []
    assert config_problems(
        {"logs-retention": {"minimumDay": 30, "retention": 5}, "rds-not-publik": {}}, known
    ) == [
        "logs-retention: unknown property 'minimumDay' (did you mean 'minimumDays'?); "
        "the rule takes enforcementLevel, environment, minimumDays",
        "logs-retention: unknown property 'retention'; the rule takes enforcementLevel, environment, minimumDays",
        "'rds-not-publik' is not a policy of this pack (did you mean 'rds-not-public'?)",
    ]


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        ({"minimumDays": "365"}, "logs-retention: minimumDays: '365' is not of type 'integer'"),
        ({"minimumDays": -1}, "logs-retention: minimumDays: -1 is less than the minimum of 0"),
        ({"minimumDays": 1.5}, "logs-retention: minimumDays: 1.5 is not of type 'integer'"),
        ({"environment": "qa"}, "logs-retention: environment: 'qa' is not one of ['dev', 'staging', 'prod']"),
        (
            {"environment": "prod "},
            "logs-retention: environment: 'prod ' is not one of ['dev', 'staging', 'prod']",
        ),
    ],
)
def test_the_pack_refuses_a_value_its_schema_refuses(
    checker: Checker, entry: dict[str, Any], line: str
) -> None:
    config = config_for("prod")
    config["logs-retention"].update(entry)
    with pytest.raises(AnalyzerError) as err:
        analyze_with(checker.stub, Graph(PROJECT, "s", []), config=config, config_source="prod.json")
    assert str(err.value).splitlines() == [f"prod.json: {line}"]


def test_the_pack_refuses_an_unknown_property(checker: Checker) -> None:
    config = config_for("prod")
    config["logs-retention"]["minimumDay"] = 365
    config["rds-not-public"]["allowPublic"] = True
    with pytest.raises(AnalyzerError) as err:
        analyze_with(checker.stub, Graph(PROJECT, "s", []), config=config, config_source="prod.json")
    assert str(err.value).splitlines() == [
        "prod.json: logs-retention: unknown property 'minimumDay' (did you mean 'minimumDays'?); "
        "the rule takes enforcementLevel, environment, minimumDays",
        "prod.json: rds-not-public: unknown property 'allowPublic'; the rule takes enforcementLevel, environment",
    ]
    # Refused, not half-applied: the pack still judges with the next, valid config.
    assert checker.run([aws_provider("prod")], "prod").violations == []


def test_the_pack_itself_refuses_what_the_engine_would_pass_on(checker: Checker) -> None:
    # Straight over the protocol, as the Pulumi CLI sends `--policy-pack-config` (it keeps unknown keys).
    props = struct_pb2.Struct()
    props.update({"minimumDay": 365})
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    request.policyConfig["logs-retention"].CopyFrom(analyzer_pb2.PolicyConfig(properties=props))
    request.policyConfig["all"].CopyFrom(analyzer_pb2.PolicyConfig())
    request.policyConfig["no-such-rule"].CopyFrom(analyzer_pb2.PolicyConfig())
    with pytest.raises(grpc.RpcError) as err:
        checker.stub.Configure(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert err.value.details().splitlines() == [  # type: ignore[attr-defined]
        "logs-retention: unknown property 'minimumDay' (did you mean 'minimumDays'?); "
        "the rule takes enforcementLevel, environment, minimumDays",
        "'no-such-rule' is not a policy of this pack",
    ]


def test_check_reports_an_unknown_property_as_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_platform.mlops.cli import main

    config = config_for("dev")
    config["logs-retention"]["minimumDay"] = 1
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(config))
    assert main(["check", "dev", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert out == "" and lines == [
        f"{path}: logs-retention: unknown property 'minimumDay' (did you mean 'minimumDays'?); "
        "the rule takes enforcementLevel, environment, minimumDays"
    ]
    assert "Traceback" not in err
