"""A faster analyzer servicer for pulumi-policy: decode each request once instead of once per policy.

pulumi-policy's ``Analyze`` converts the request's properties (protobuf -> dict -> proxy), options and
provider again for every policy of the pack, and ``AnalyzeStack`` rebuilds every resource of the stack
for every stack policy. With ~80 policies that is most of the pack's time (about 4 ms per resource).
This subclass does the same work once per request and hands every policy the same read-only values;
everything else (enforcement levels, config, not-applicable and unknown-value handling, diagnostics)
is the SDK's own code path, kept line for line. A test runs the same graphs through the SDK's servicer
(``MLOPS_POLICY_FASTPATH=0``) and this one and requires identical diagnostics.

It extends the pack's servicer (:class:`mlops_platform.policies.servicer.PackServicer`: config checks and
the stack's config). ``policies/__main__.py`` installs one of the two (:func:`install`) before it builds the
pack; nothing else does, so importing the rules or the pack leaves pulumi-policy as it is.
"""

from __future__ import annotations

import asyncio
import os
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from mlops_platform.policies.servicer import PackServicer

_Base: Any = PackServicer


class FastAnalyzerServicer(_Base):
    def _policies(self) -> list[Any]:
        return self._PolicyAnalyzerServicer__policies  # type: ignore[attr-defined]

    def _meta(self) -> tuple[str, str, Any]:
        return (
            self._PolicyAnalyzerServicer__policy_pack_name,  # type: ignore[attr-defined]
            self._PolicyAnalyzerServicer__policy_pack_version,  # type: ignore[attr-defined]
            self._PolicyAnalyzerServicer__stack_tags,
        )  # type: ignore[attr-defined]

    def _run(self, policy: Any, args: Any, report: Any, response: Any, name: str, version: str) -> None:
        try:
            result = policy.validate(args, report)
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                loop.run_until_complete(asyncio.ensure_future(result, loop=loop))
                loop.close()
        except UnknownValueError as e:
            response.diagnostics.append(
                proto.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=(
                        f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during preview: "
                        f"{e.message}"
                    ),
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),
                )
            )
        except sdk._NotApplicableError as e:
            response.not_applicable.append(
                proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or "")
            )

    def Analyze(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        name, version, stack_tags = self._meta()
        props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(request.properties)))
        opts = self._get_resource_options(request)
        provider = self._get_provider_resource(request)
        for policy in self._policies():
            if not isinstance(policy, sdk.ResourceValidationPolicy):
                continue
            applies = getattr(policy, "applies_to", None)
            if applies is not None and not applies(request.type):
                continue  # the policy's check returns at once for this type: same verdict, no work
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED:
                continue
            if not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(
                        policy_name=policy.name, reason="Policy does not implement validate"
                    )
                )
                continue
            if level == sdk.EnforcementLevel.REMEDIATE:
                level = sdk.EnforcementLevel.MANDATORY
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = sdk.ResourceValidationArgs(
                request.type,
                props,
                request.urn,
                request.name,
                opts,
                provider,
                self._get_policy_config(policy.name),
                stack_tags,
            )
            self._run(policy, args, report, response, name, version)
        return response

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        name, version, stack_tags = self._meta()
        resources: list[Any] | None = None
        for policy in self._policies():
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, sdk.StackValidationPolicy):
                continue
            if level == sdk.EnforcementLevel.REMEDIATE:
                level = sdk.EnforcementLevel.MANDATORY
            if resources is None:
                resources = self._resources(request)
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = sdk.StackValidationArgs(resources, self._get_policy_config(policy.name), stack_tags)
            self._run(policy, args, report, response, name, version)
        return response

    def _resources(self, request: Any) -> list[Any]:
        by_urn: dict[str, Any] = {}
        pending: list[tuple[Any, Any]] = []
        for r in request.resources:
            props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(r.properties)))
            res = sdk.PolicyResource(
                r.type,
                props,
                r.urn,
                r.name,
                self._get_resource_options(r),
                self._get_provider_resource(r),
                None,
                [],
                {},
            )
            by_urn[res.urn] = res
            pending.append((res, r))
        for res, r in pending:
            if r.parent and r.parent in by_urn:
                res.parent = by_urn[r.parent]
            res.dependencies.extend(by_urn[d] for d in r.dependencies if d in by_urn)
            for k, v in r.propertyDependencies.items():
                res.property_dependencies[k] = [by_urn[d] for d in v.urns if d in by_urn]
        return [res for res, _ in pending]


def install() -> None:
    """Make ``PolicyPack`` serve with :class:`FastAnalyzerServicer`, or with the pack's servicer on the SDK's
    code path when opted out (``MLOPS_POLICY_FASTPATH=0``)."""
    fast = os.environ.get("MLOPS_POLICY_FASTPATH", "1") != "0"
    sdk._PolicyAnalyzerServicer = FastAnalyzerServicer if fast else PackServicer
