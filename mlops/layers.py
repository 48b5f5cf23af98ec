"""The two deploy layers of one environment's graph, and the phase-1 target list.

One program and one stack per environment, deployed in two phases (docs/operations.md):

* the **AWS layer**: every resource that is not a ``kubernetes:*`` resource or the Kubernetes provider and
  depends on none of them, transitively (dependencies, property dependencies, parent, provider). Phase 1
  runs ``pulumi up --target`` with exactly these URNs from outside the VPC (AWS APIs are public);
* the **cluster layer**: everything else, created by phase 2, the full ``pulumi up`` that the in-VPC
  deploy runner runs.

Facts of the Pulumi engine this relies on (pkg/resource/deploy/step_generator.go):

* an untargeted resource that does not exist yet is a *skipped create*; a targeted step that depends on a
  skipped create (through any dependency, parent, property dependency, deleted-with or provider) fails the
  update with "untargeted create". The AWS layer is closed under dependencies, so this cannot happen;
* providers and the root stack are targeted implicitly, so they are not listed. The Kubernetes provider is
  therefore registered in phase 1 too: its own dependencies are all in the AWS layer, and its Configure
  marks an unreachable cluster as such instead of failing (pulumi-kubernetes ``clusterUnreachable``);
  nothing that would use it is targeted;
* component resources are not implicitly targeted: those of the AWS layer are listed.

The offline engine gives every resource the URN the real engine gives it (``generateURN``: the parent's full
qualified type, never the root stack's), so the list is printed as recorded.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlops_platform.mlops.graph import Graph, Resource

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
LAYERS = ("all", "aws", "cluster")


def is_kubernetes(resource: Resource) -> bool:
    return resource.type.startswith("kubernetes:") or resource.type == KUBERNETES_PROVIDER


def _edges(resource: Resource) -> Iterable[str]:
    yield from resource.dependencies
    for deps in resource.property_dependencies.values():
        yield from deps
    if resource.parent:
        yield resource.parent
    if resource.provider:
        yield resource.provider


def cluster_layer_urns(graph: Graph) -> set[str]:
    """URNs of the Kubernetes resources and of everything that depends on one, transitively."""
    by_urn = graph.by_urn()
    memo: dict[str, bool] = {}

    def in_cluster(urn: str, seen: frozenset[str] = frozenset()) -> bool:
        if urn in memo:
            return memo[urn]
        res = by_urn.get(urn)
        if res is None or urn in seen:
            return False
        found = is_kubernetes(res) or any(in_cluster(dep, seen | {urn}) for dep in _edges(res))
        memo[urn] = found
        return found

    return {r.urn for r in graph.resources if in_cluster(r.urn)}


def layer(graph: Graph, name: str) -> list[Resource]:
    """The resources of one layer (``all``, ``aws`` or ``cluster``), in registration order."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}; one of {list(LAYERS)}")
    if name == "all":
        return list(graph.resources)
    cluster = cluster_layer_urns(graph)
    if name == "cluster":
        return [r for r in graph.resources if r.urn in cluster]
    return [r for r in graph.resources if r.urn not in cluster]


def implicitly_targeted(resource: Resource) -> bool:
    """Resources the engine targets whatever ``--target`` lists: providers and the root stack."""
    return resource.is_provider or resource.type == ROOT_STACK_TYPE


def targets(graph: Graph) -> list[str]:
    """The phase-1 ``--target`` list: the AWS layer's URNs, without implicitly targeted ones,
    sorted (registration order varies between runs; the order of ``--target`` flags does not matter)."""
    return sorted(r.urn for r in layer(graph, "aws") if not implicitly_targeted(r))


def restrict(graph: Graph, name: str) -> Graph:
    """A copy of ``graph`` with only one layer's resources (outputs kept only for ``all``)."""
    if name == "all":
        return graph
    return Graph(project=graph.project, stack=graph.stack, resources=layer(graph, name), outputs={})
