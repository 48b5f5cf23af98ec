"""Layer ``iam``: every IAM policy document the platform renders, linted by parliament.

Which documents: identity policies (``aws:iam/policy:Policy``, role/user/group inline policies and a role's
``inlinePolicies``), trust policies (a role's ``assumeRolePolicy``), KMS key policies, bucket, topic, queue,
secret and ECR repository policies, and, so that nothing is missed, any other input of any resource that
holds a JSON document with a ``Statement`` list. ECR lifecycle policies are not IAM and have no
``Statement``; they are not linted.

How: each document goes through ``parliament.analyze_policy_string`` exactly as written, with one
translation parliament needs to read a resource policy the way AWS does. parliament requires a ``Resource``
in every statement and judges it against the action; a policy attached to a resource may leave the resource
implicit:

- a trust policy and an ECR repository policy have no ``Resource`` (the role / the repository is the
  resource): the statement is linted with ``Resource`` set to that resource's ARN;
- in a KMS key policy ``"Resource": "*"`` means "this key": it is linted as the key's ARN.

``Principal`` is checked by parliament itself (account, ARN, federated provider, service). Every finding
counts, LOW included (an unknown action is LOW). parliament's community auditors (privilege escalation,
credential exposure, permissions management) are not run: they judge what a policy grants, which the
policy pack's IAM rules already judge with the platform's own scoping rules; this layer asks whether AWS
reads each document the way we wrote it.

Every finding is located at the resource whose input holds the document; ``object`` names the document
(``policy``, ``assumeRolePolicy``, ``inlinePolicies[name]``...), ``path`` the statement.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlops_platform.mlops.graph import Graph, Resource, reveal
from mlops_platform.mlops.verify.model import Finding, VerifyContext

LAYER = "iam"

IDENTITY = "identity"
TRUST = "trust"
KEY = "key"
REPOSITORY = "repository"
RESOURCE = "resource"

KNOWN_DOCUMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "aws:iam/policy:Policy": (("policy", IDENTITY),),
    "aws:iam/rolePolicy:RolePolicy": (("policy", IDENTITY),),
    "aws:iam/userPolicy:UserPolicy": (("policy", IDENTITY),),
    "aws:iam/groupPolicy:GroupPolicy": (("policy", IDENTITY),),
    "aws:iam/role:Role": (("assumeRolePolicy", TRUST),),
    "aws:kms/key:Key": (("policy", KEY),),
    "aws:kms/keyPolicy:KeyPolicy": (("policy", KEY),),
    "aws:s3/bucketPolicy:BucketPolicy": (("policy", RESOURCE),),
    "aws:s3/bucket:Bucket": (("policy", RESOURCE),),
    "aws:sns/topicPolicy:TopicPolicy": (("policy", RESOURCE),),
    "aws:sns/topic:Topic": (("policy", RESOURCE),),
    "aws:sqs/queuePolicy:QueuePolicy": (("policy", RESOURCE),),
    "aws:sqs/queue:Queue": (("policy", RESOURCE),),
    "aws:secretsmanager/secretPolicy:SecretPolicy": (("policy", RESOURCE),),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": (("policy", REPOSITORY),),
}
"""Inputs that hold a policy document (linted even when malformed), with the kind of document."""

UNKNOWN_MARKERS = ("@unknown", "04da6b54-80e4-46f7-96ec-b56ff0331ba9")


@dataclass
class Document:
    resource: Resource
    object: str
    """Which document of the resource: the input's name (``policy``, ``assumeRolePolicy``...)."""
    kind: str
    text: str
    """The document as the resource passes it (a JSON string)."""


def check(ctx: VerifyContext) -> list[Finding]:
    return lint_graph(ctx.graph)


def lint_graph(graph: Graph) -> list[Finding]:
    findings: list[Finding] = []
    for doc in documents(graph):
        findings.extend(lint(doc, graph))
    return findings


# --------------------------------------------------------------------------------------------------
# Finding the documents
# --------------------------------------------------------------------------------------------------


def documents(graph: Graph) -> Iterator[Document]:
    """Every policy document of the graph: the known inputs first, then any other JSON with a Statement."""
    for r in graph.resources:
        inputs = reveal(r.inputs)
        known = KNOWN_DOCUMENTS.get(r.type, ())
        skip = {key for key, _ in known}
        for key, kind in known:
            value = inputs.get(key)
            if value not in (None, ""):
                yield Document(r, key, kind, _as_text(value))
        if r.type == "aws:iam/role:Role":
            skip.add("inlinePolicies")
            for i, inline in enumerate(inputs.get("inlinePolicies") or []):
                if isinstance(inline, dict) and inline.get("policy") not in (None, ""):
                    label = inline.get("name") or str(i)
                    yield Document(r, f"inlinePolicies[{label}]", IDENTITY, _as_text(inline["policy"]))
        for path, value in _statement_documents(inputs, skip):
            yield Document(r, path, _kind_of(value), _as_text(value))


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _is_statement_document(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("Statement"), list | dict)


def _statement_documents(value: Any, skip: set[str], path: str = "") -> Iterator[tuple[str, Any]]:
    if path and _is_statement_document(_parsed(value)):
        yield path, value
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not path and k in skip:
                continue
            yield from _statement_documents(v, skip, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _statement_documents(v, skip, f"{path}[{i}]")


def _kind_of(value: Any) -> str:
    """A document found by its shape: a resource policy when a statement names a principal."""
    doc = _parsed(value)
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    listed = statements if isinstance(statements, list) else [statements]
    if any(isinstance(s, dict) and ("Principal" in s or "NotPrincipal" in s) for s in listed):
        return RESOURCE
    return IDENTITY


# --------------------------------------------------------------------------------------------------
# Linting one document
# --------------------------------------------------------------------------------------------------


def lint(doc: Document, graph: Graph) -> list[Finding]:
    if any(marker in doc.text for marker in UNKNOWN_MARKERS):
        return [
            Finding.at(
                doc.resource,
                LAYER,
                "UNDETERMINED",
                f"{doc.object} holds a value unknown offline; the document cannot be linted",
                object=doc.object,
            )
        ]
    text, implicit = _as_linted(doc, graph)
    policy = _analyze(text)
    statements = _statements(text)
    findings: list[Finding] = []
    in_statements: set[int] = set()
    for index, stmt in enumerate(policy.statements):
        for f in stmt.findings:
            in_statements.add(id(f))
            findings.append(_finding(doc, f, index, statements, implicit))
    for f in policy.findings:
        if id(f) not in in_statements:
            findings.append(_finding(doc, f, None, statements, implicit))
    return findings


def _analyze(text: str) -> Any:
    with warnings.catch_warnings():
        # parliament 1.6 imports pkg_resources (setuptools < 82) and leaves its data files open.
        warnings.simplefilter("ignore")
        import parliament

        policy = parliament.analyze_policy_string(text, ignore_private_auditors=True)
        for f in policy.findings:
            parliament.enhance_finding(f)
    return policy


def _statements(text: str) -> list[Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else []


def _as_linted(doc: Document, graph: Graph) -> tuple[str, str]:
    """The text parliament reads, and the ARN put in for an implicit resource ("" when none)."""
    if doc.kind not in (TRUST, REPOSITORY, KEY):
        return doc.text, ""
    try:
        parsed = json.loads(doc.text)
    except ValueError:
        return doc.text, ""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list | dict):
        return doc.text, ""
    arn = _implicit_arn(doc, graph)
    statements = parsed["Statement"] if isinstance(parsed["Statement"], list) else [parsed["Statement"]]
    changed = False
    for stmt in statements:
        if not isinstance(stmt, dict):
            continue
        if doc.kind == KEY:
            if stmt.get("Resource") == "*":
                stmt["Resource"] = arn
                changed = True
        elif "Resource" not in stmt and "NotResource" not in stmt:
            stmt["Resource"] = arn
            changed = True
    return (json.dumps(parsed), arn) if changed else (doc.text, "")


def _implicit_arn(doc: Document, graph: Graph) -> str:
    r = doc.resource
    if doc.kind == TRUST:
        return _arn_of(r) or f"arn:aws:iam::000000000000:role/{r.inputs.get('name') or r.name}"
    if doc.kind == KEY:
        if r.type == "aws:kms/keyPolicy:KeyPolicy":
            key_id = r.inputs.get("keyId")
            for key in graph.of_type("aws:kms/key:Key"):
                if key_id in (key.id, key.outputs.get("id"), key.outputs.get("keyId"), _arn_of(key)):
                    return _arn_of(key) or ""
            return f"arn:aws:kms:*:000000000000:key/{key_id}"
        return _arn_of(r) or "arn:aws:kms:*:000000000000:key/00000000-0000-0000-0000-000000000000"
    repository = str(r.inputs.get("repository") or "")
    for repo in graph.of_type("aws:ecr/repository:Repository"):
        if repository in (repo.outputs.get("name"), repo.inputs.get("name"), repo.id):
            arn = _arn_of(repo)
            if arn:
                return arn
    return f"arn:aws:ecr:*:000000000000:repository/{repository}"


def _arn_of(r: Resource) -> str:
    arn = r.outputs.get("arn")
    return arn if isinstance(arn, str) and arn.startswith("arn:") else ""


def _finding(doc: Document, f: Any, index: int | None, statements: list[Any], implicit: str) -> Finding:
    detail = f.detail
    if isinstance(detail, list | dict):
        detail = json.dumps(detail)
    where = ""
    stmt_text = ""
    if index is not None:
        stmt = statements[index] if index < len(statements) else None
        sid = stmt.get("Sid") if isinstance(stmt, dict) else None
        where = f"statement {index}" + (f" ({sid})" if sid else "")
        stmt_text = json.dumps(stmt, sort_keys=True) if stmt is not None else ""
    parts = [f"{f.severity} {f.title}"]
    if detail:
        parts.append(str(detail))
    location = f.location.get("string") if isinstance(f.location, dict) else None
    if location and str(location) not in str(detail):
        parts.append(f"at {location!r}")
    message = ": ".join(parts)
    if where:
        message = f"{where}: {message}; statement {stmt_text}"
    if implicit:
        message += f" (the implicit resource was linted as {implicit})"
    return Finding.at(
        doc.resource,
        LAYER,
        f.issue,
        message,
        object=doc.object,
        path=f"Statement[{index}]" if index is not None else "",
    )
