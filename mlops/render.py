"""Text rendering of a resource graph, nested the way ``pulumi preview`` nests it."""

from __future__ import annotations

from mlops_platform.mlops.graph import Graph, Resource


def render_tree(graph: Graph) -> str:
    by_parent: dict[str | None, list[Resource]] = {}
    urns = {r.urn for r in graph.resources}
    for r in graph.resources:
        parent = r.parent if r.parent in urns else None
        by_parent.setdefault(parent, []).append(r)

    rows: list[tuple[str, str, str]] = []
    stack_name = f"{graph.project}-{graph.stack}"
    rows.append(("pulumi:pulumi:Stack", stack_name, ""))

    def walk(parent: str | None, prefix: str) -> None:
        kids = sorted(by_parent.get(parent, []), key=lambda r: (r.type, r.name))
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            branch = "└─ " if last else "├─ "
            flags = []
            if r.protect:
                flags.append("protect")
            if r.retain_on_delete:
                flags.append("retain")
            if r.type == "pulumi:pulumi:StackReference":
                flags.append("read")
            rows.append((prefix + branch + r.type, r.name, ", ".join(flags)))
            walk(r.urn, prefix + ("   " if last else "│  "))

    walk(None, "")
    width_t = max(len(t) for t, _, _ in rows)
    width_n = max(len(n) for _, n, _ in rows)
    lines = [
        f"Offline plan of {graph.project}/{graph.stack}",
        "",
        f"     {'Type':<{width_t}}  {'Name':<{width_n}}  Plan",
    ]
    for typ, name, flags in rows:
        extra = f"  [{flags}]" if flags else ""
        lines.append(f" +   {typ:<{width_t}}  {name:<{width_n}}  create{extra}")

    counts = graph.counts()
    lines += ["", "Resources by type:"]
    for typ, n in sorted(counts.items()):
        lines.append(f"    {n:>4}  {typ}")
    protected = sum(1 for r in graph.resources if r.protect)
    lines += ["", f"Resources: {len(graph.resources) + 1} to create ({protected} protected)"]
    return "\n".join(lines)
