"""Every ```python block of the README, docs/*.md and examples/*/README.md, collected in one place.

A block is a program unless it is marked as a fragment: an HTML comment ``<!-- fragment: why -->`` as
the last line before the fence (invisible on GitHub). Nothing is skipped silently:

* a program runs offline as written (the recording monitor, the fake cloud; a StackReference to a
  platform stack answers with the outputs contract), and when it creates resources it is a complete
  program and passes the policy pack over the analyzer protocol (what ``mlops check`` runs) with zero
  mandatory violations, judged with the config of the environment its AWS provider is tagged with
  (prod when it declares none);
* a fragment must still parse, and must say why it is one; a fragment that claims to be an
  ``excerpt of <path>`` must be a verbatim excerpt of that file;
* a marker that precedes no python block is an error.

The output names the docs mention are checked against the contract (``PlatformOutputs``) and the outputs
the platform stack really exports (test_output_names_in_docs_are_real).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from policytest import Checker

from mlops_platform.components.governance import ENVIRONMENTS
from mlops_platform.components.platform.outputs import EXPORT_NAMES
from mlops_platform.mlops.engine import run_callable
from mlops_platform.mlops.fakecloud import FakeCloud
from mlops_platform.mlops.graph import Graph

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = sorted(
    {REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "examples").glob("*/README.md")}
)
PYTHON_INFO = {"python", "py", "python3"}
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    flags=re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"<!--\s*fragment:(?P<why>.*?)-->")
MARKER_LINE = re.compile(r"^[ \t]*<!--\s*fragment:.*?-->[ \t]*$", flags=re.MULTILINE)
"""A marker is a line of its own (`<!-- fragment: why -->` quoted in prose is not one)."""
EXCERPT = re.compile(r"excerpt of `?(?P<path>[\w./-]+\.py)`?")
REGION = "eu-west-1"


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    """Line of the block's first code line in the file."""
    code: str
    """The block's code, dedented as the Markdown renders it."""
    fragment: str | None
    """Why the block is a fragment (the marker's text), or None for a program."""

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def compiled(self) -> Any:
        # Padded so tracebacks name the line in the Markdown file; not the file's own name, which
        # pytest would try to parse as Python to show the failing statement.
        return compile("\n" * (self.line - 1) + self.code, f"{self.path} (python block)", "exec")


def collect(path: Path, rel: str | None = None) -> tuple[list[Block], list[str]]:
    """The python blocks of ``path`` and the problems with its markers (markers before no python block)."""
    text = path.read_text(encoding="utf-8")
    rel = rel or path.relative_to(REPO).as_posix()
    blocks: list[Block] = []
    used: set[int] = set()
    for m in FENCE.finditer(text):
        info = m.group("info").strip().split()
        if not info or info[0].lower() not in PYTHON_INFO:
            continue
        before = text[: m.start()].rstrip().rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        if marker:
            used.add(text[: m.start()].rstrip().rfind("<!--"))
        blocks.append(
            Block(
                path=rel,
                line=text.count("\n", 0, m.start("body")) + 1,
                code=textwrap.dedent(m.group("body")),
                fragment=marker.group("why").strip() if marker else None,
            )
        )
    problems = [
        f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: a fragment marker that precedes no ```python block"
        for m in MARKER_LINE.finditer(text)
        if m.group(0).find("<!--") + m.start() not in used
    ]
    return blocks, problems


COLLECTED = [collect(p) for p in DOC_FILES]
BLOCKS = [b for blocks, _ in COLLECTED for b in blocks]
PROGRAMS = [b for b in BLOCKS if b.fragment is None]
FRAGMENTS = [b for b in BLOCKS if b.fragment is not None]
_graphs: dict[str, Graph] = {}


def run(block: Block) -> Graph:
    """The block run offline as a Pulumi program (once per session)."""
    if block.id not in _graphs:
        code = block.compiled()
        _graphs[block.id] = run_callable(
            lambda: exec(code, {"__name__": "__main__"}),
            project="docs-example",
            stack="docs-example",
            root=REPO,
            config={"aws:region": REGION},
            mocks=FakeCloud(region=REGION),
        )
    return _graphs[block.id]


def block(path: str, contains: str) -> Block:
    """The one program block of ``path`` that contains ``contains``."""
    found = [b for b in PROGRAMS if b.path == path and contains in b.code]
    assert len(found) == 1, f"{path}: {len(found)} program blocks contain {contains!r}"
    return found[0]


def environment_of(graph: Graph) -> str:
    """The environment the program's explicit AWS providers are tagged with; prod (the strictest) if none."""
    envs = set()
    for r in graph.of_type("pulumi:providers:aws"):
        tags = json.loads(r.inputs.get("defaultTags") or "{}").get("tags") or {}
        if tags.get("environment") in ENVIRONMENTS:
            envs.add(tags["environment"])
    return max(envs, key=ENVIRONMENTS.index) if envs else "prod"


# ---- the collection itself --------------------------------------------------------------------------


def test_every_doc_file_is_collected() -> None:
    names = {p.relative_to(REPO).as_posix() for p in DOC_FILES}
    assert {"README.md", "docs/library.md", "docs/outputs.md", "examples/team-project/README.md"} <= names
    assert len(PROGRAMS) >= 12


def test_fragment_markers_precede_a_python_block() -> None:
    problems = [p for _, probs in COLLECTED for p in probs]
    assert not problems, "\n".join(problems)


def test_the_collector_sees_indented_blocks_and_markers(tmp_path: Path) -> None:
    doc = tmp_path / "probe.md"
    doc.write_text(
        "1. Step:\n\n   ```python\n   x = 1\n   ```\n\n<!-- fragment: shown for its shape -->\n"
        "```python\ny = undefined\n```\n\n<!-- fragment: dangling -->\n\n```yaml\na: 1\n```\n"
        "Quoted in prose, `<!-- fragment: why -->` is no marker.\n",
        encoding="utf-8",
    )
    blocks, problems = collect(doc, "docs/probe.md")
    assert [(b.line, b.code, b.fragment) for b in blocks] == [
        (4, "x = 1\n", None),
        (9, "y = undefined\n", "shown for its shape"),
    ]
    assert problems == ["docs/probe.md:12: a fragment marker that precedes no ```python block"]


# ---- programs: render, and pass the policy pack when complete --------------------------------------


@pytest.mark.parametrize("block", PROGRAMS, ids=[b.id for b in PROGRAMS])
def test_program_renders_offline(block: Block) -> None:
    run(block)


@pytest.mark.parametrize("block", PROGRAMS, ids=[b.id for b in PROGRAMS])
def test_complete_program_passes_the_policy_pack(block: Block, checker: Checker) -> None:
    graph = run(block)
    if not [r for r in graph.resources if r.custom and not r.type.startswith("pulumi:providers:")]:
        pytest.skip("creates no resources: not a whole stack program")  # rendering it is the test
    env = environment_of(graph)
    result = checker.run(graph, env=env)
    mandatory = [f"{v.policy} on {v.type} {v.name}: {v.message}" for v in result.mandatory]
    assert not mandatory, f"{block.id} ({env}):\n" + "\n".join(mandatory)


# ---- fragments: parse, say why, and excerpts are verbatim -------------------------------------------


@pytest.mark.parametrize("block", FRAGMENTS, ids=[b.id for b in FRAGMENTS])
def test_fragment_parses_and_says_why(block: Block) -> None:
    assert block.fragment, f"{block.id}: the fragment marker must say why the block is not a program"
    ast.parse(block.code, filename=block.id)
    excerpt = EXCERPT.search(block.fragment)
    if excerpt:
        source = (REPO / excerpt.group("path")).read_text(encoding="utf-8")
        normalised = "\n".join(line.strip() for line in source.splitlines())
        for line in block.code.splitlines():
            assert line.strip() in normalised, (
                f"{block.id}: {line.strip()!r} is not in {excerpt.group('path')}"
            )


# ---- output names: the docs name only outputs the platform stack exports ------------------------------

CAMEL = re.compile(r"`([a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+)`")
OUTPUT_WORD = re.compile(r"\b(?:outputs?|exports?)\b", flags=re.IGNORECASE)
READ_OUTPUT = re.compile(
    r"\.(?:get_output|require_output|get_output_details)\(\s*[\"'](?P<name>[^\"']+)[\"']"
)
STACK_OUTPUT_CMD = re.compile(r"pulumi stack output (?:--[\w-]+ )*(?P<name>[A-Za-z]\w*)")
LIST_ITEM = re.compile(r"\n(?=[ \t]*(?:[-*+]|\d+\.) )")


def output_mentions(text: str) -> list[tuple[int, str]]:
    """(line, name) of every backticked camelCase name in prose that talks about outputs or exports: a
    paragraph or list item that says "output(s)"/"export(s)", or a table whose header or the paragraph
    before it does. Code blocks are not prose (their names are checked by rendering them)."""
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found: list[tuple[int, str]] = []
    offset, previous = 0, ""
    for paragraph in re.split(r"(\n[ \t]*\n)", prose):
        if paragraph.strip() and not paragraph.startswith("\n"):
            line = prose.count("\n", 0, offset) + 1
            if paragraph.lstrip().startswith("|"):
                header = paragraph.lstrip().split("\n", 1)[0]
                units = [paragraph] if OUTPUT_WORD.search(previous + header) else []
            else:
                units = [u for u in LIST_ITEM.split(paragraph) if OUTPUT_WORD.search(u)]
            for unit in units:
                for m in CAMEL.finditer(unit):
                    at = paragraph.find(unit) + m.start()
                    found.append((line + paragraph.count("\n", 0, at), m.group(1)))
            previous = paragraph
        offset += len(paragraph)
    return found


@pytest.fixture(scope="module")
def stack_output_names(stacks: dict[str, Graph]) -> set[str]:
    """Every output the shipped platform stacks export (the contract and the operational outputs)."""
    names = {name for graph in stacks.values() for name in graph.outputs}
    assert set(EXPORT_NAMES.values()) <= names
    return names


def config_keys() -> set[str]:
    """The project's config keys (Pulumi.yaml, generated from the schema): prose about outputs names them too."""
    config = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    return {key.rsplit(":", 1)[-1] for key in config}


def wrong_output_names(rel: str, text: str, known: set[str]) -> list[str]:
    """The output names ``text`` mentions that are neither in ``known`` (the stack's outputs and the config
    keys) nor exported by an example of the same page; one line each, with the file and line."""
    exported_here = set(re.findall(r"pulumi\.export\(\s*[\"'](\w+)[\"']", text))
    wrong = [
        f"{rel}:{line}: `{name}` is not an output of the platform stack"
        for line, name in output_mentions(text)
        if name not in known | exported_here
    ]
    for m in STACK_OUTPUT_CMD.finditer(text):
        if m.group("name") not in known:
            line = text.count("\n", 0, m.start()) + 1
            wrong.append(f"{rel}:{line}: `pulumi stack output {m.group('name')}`: no such output")
    return wrong


def test_output_names_in_docs_are_real(stack_output_names: set[str]) -> None:
    """`databaseAddress` or `oidcIssuerUrl` in a table of outputs is a name a consumer would read in vain."""
    settings = config_keys() - stack_output_names
    assert "registryRepositories" in settings
    wrong = [
        problem
        for path in DOC_FILES
        for problem in wrong_output_names(
            path.relative_to(REPO).as_posix(), path.read_text(encoding="utf-8"), stack_output_names | settings
        )
    ]
    assert not wrong, "\n".join(wrong)


def test_the_names_issue_13_found_are_refused(stack_output_names: set[str]) -> None:
    text = (
        "Stack outputs:\n\n| Output | What |\n| --- | --- |\n"
        "| `databaseEndpoint`, `databaseAddress` | the database |\n\n"
        "The cluster exports `clusterCertificateAuthority` and `oidcIssuerUrl`.\n\n"
        "- the `mlflowMetricsPath` output\n\n    pulumi stack output mlflowUrl\n    pulumi stack output grafanaPassword\n"
    )
    assert wrong_output_names("doc.md", text, stack_output_names) == [
        "doc.md:5: `databaseAddress` is not an output of the platform stack",
        "doc.md:7: `clusterCertificateAuthority` is not an output of the platform stack",
        "doc.md:7: `oidcIssuerUrl` is not an output of the platform stack",
        "doc.md:9: `mlflowMetricsPath` is not an output of the platform stack",
        "doc.md:12: `pulumi stack output grafanaPassword`: no such output",
    ]


def test_outputs_read_by_examples_are_in_the_contract() -> None:
    """A consumer reads the versioned contract; the operational outputs may change without notice."""
    contract = set(EXPORT_NAMES.values())
    read = [(b, m.group("name")) for b in BLOCKS for m in READ_OUTPUT.finditer(b.code)]
    assert read, "the examples read platform outputs through a StackReference"
    wrong = [f"{b.id}: {name!r}" for b, name in read if name not in contract]
    assert not wrong, "outputs read that are not in the contract (components/platform/outputs.py):\n" + (
        "\n".join(wrong)
    )


def test_output_mentions_are_found() -> None:
    """The scanner sees tables introduced by a sentence about outputs, list items and paragraphs, and
    ignores names in code and in prose about something else."""
    text = (
        "Stack outputs of the platform:\n\n| Output | What |\n| --- | --- |\n| `vpcId`, `madeUpName` | x |\n\n"
        "- `configKey` is a setting\n- the `otherOutput` output\n\n"
        "```python\nx = `inCode`\n```\n\nThe `alsoConfig` key.\n"
    )
    assert output_mentions(text) == [(5, "vpcId"), (5, "madeUpName"), (8, "otherOutput")]


# ---- what particular examples show ------------------------------------------------------------------


def platform_values(graph: Graph) -> dict[str, Any]:
    """The outputs the program's StackReference to the platform answered with."""
    refs = graph.of_type("pulumi:pulumi:StackReference")
    assert len(refs) == 1, "the example reads one platform stack"
    return refs[0].outputs["outputs"]


def test_readme_standalone_artifact_store_is_hardened_and_tagged() -> None:
    graph = run(block("README.md", "Keys("))
    assert len(graph.of_type("aws:kms/key:Key")) == 3
    assert graph.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert "arn:aws:s3:::team-a-artifacts-123456789012-eu-west-1/models/*" in graph.outputs["readWritePolicy"]
    (provider,) = graph.of_type("pulumi:providers:aws")
    for r in graph.resources:
        if r.custom and r.type.startswith("aws:"):
            assert r.provider == provider.urn, f"{r.name} is not created through the tagged provider"


def test_every_data_component_has_an_example() -> None:
    text = "\n".join(b.code for b in PROGRAMS if b.path == "docs/components-data.md")
    for component in ("Keys(", "Network(", "ArtifactStore(", "MetadataDatabase("):
        assert component in text


def test_artifact_example_policy_is_scoped_to_its_prefix() -> None:
    graph = run(block("docs/components-data.md", "ArtifactStore("))
    policy = graph.one("aws:iam/policy:Policy", "features-writer").inputs["policy"]
    assert "arn:aws:s3:::acme-team-a-features-eu-west-1/team-a/*" in policy
    assert platform_values(graph)["kmsDataKeyArn"] in policy


def test_database_example_uses_the_platform_outputs() -> None:
    graph = run(block("docs/components-data.md", "MetadataDatabase("))
    platform = platform_values(graph)
    assert graph.one("aws:rds/instance:Instance").inputs["kmsKeyId"] == platform["kmsDataKeyArn"]
    subnets = graph.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    assert subnets == platform["privateSubnetIds"]
    for group in graph.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["kmsKeyId"] == platform["kmsLogsKeyArn"]


def test_registry_example_grants_pull_to_the_platform_node_role() -> None:
    graph = run(block("docs/components-compute.md", "ContainerRegistry("))
    node_role = platform_values(graph)["nodeRoleArn"]
    policies = graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert len(policies) == 2
    assert all(node_role in p.inputs["policy"] for p in policies)


def test_data_table_marks_exactly_the_contract() -> None:
    """docs/components-data.md's table of outputs: bold names are the contract, plain ones are not."""
    text = (REPO / "docs" / "components-data.md").read_text(encoding="utf-8")
    table = text.split("| Output | What it is |", 1)[1].split("\n\n", 1)[0]
    bold = set(re.findall(r"\*\*`(\w+)`\*\*", table))
    plain = set(re.findall(r"(?<!\*)`(\w+)`(?!\*)", table))
    contract = set(EXPORT_NAMES.values())
    assert bold and plain
    assert bold <= contract, f"marked as contract but not in it: {sorted(bold - contract)}"
    assert not plain & contract, f"contract outputs not marked: {sorted(plain & contract)}"


RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed next to this interpreter")
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_is_formatted_like_the_code(block: Block) -> None:
    """The examples read like the project's code: `ruff format` with the project's settings changes nothing."""
    result = subprocess.run(
        [str(RUFF), "format", "--diff", "--stdin-filename", "docs_example.py", "-"],
        input=block.code,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, f"{block.id}: ruff format would change it:\n{result.stdout}{result.stderr}"
