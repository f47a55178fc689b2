"""The reference graph: dependencies before dependents, cycles named in full."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from assetpipe.errors import ReferenceCycle


def build_order(
    nodes: Sequence[str],
    edges: Mapping[str, Sequence[str]],
    where: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> list[str]:
    """Topological order of ``nodes`` (each after everything it references), deterministic.

    ``edges[a]`` lists what ``a`` references. ``where[(a, b)]`` optionally gives the line:column of a's
    reference to b, to point a cycle error at the reference that closes it. Iterative DFS: vendor
    trees can be deep.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(nodes):
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            deps = edges.get(node, ())
            if index < len(deps):
                stack[-1] = (node, index + 1)
                dep = deps[index]
                mark = state.get(dep)
                if mark == 1:
                    loop = [*path[path.index(dep) :], dep]
                    line, column = (where or {}).get((node, dep), (None, None))
                    raise ReferenceCycle(
                        "reference cycle: " + " -> ".join(loop),
                        path=node,
                        line=line,
                        column=column,
                        hint="content hashes cannot be computed for files that reference each other; "
                        "list one of them in 'unhashed' to break the loop",
                    )
                if mark is None:
                    state[dep] = 1
                    stack.append((dep, 0))
                    path.append(dep)
                continue
            stack.pop()
            path.pop()
            state[node] = 2
            order.append(node)
    return order


def dependents(edges: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """The reverse graph: for each node, who references it."""
    reverse: dict[str, set[str]] = {}
    for node, deps in edges.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(node)
    return reverse


def build_order_by_weight(
    nodes: Sequence[str],
    edges: Mapping[str, Sequence[str]],
    weight: Mapping[str, int],
    where: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> list[str]:
    """A topological order that takes the heaviest ready node first (Kahn's algorithm with a heap).

    The build writes files in this order and hands each to the compression pool as it goes: starting the
    biggest files first keeps a long brotli call on a large bundle from running alone at the end while the
    other cores idle. Ties break by name, so the order is deterministic. A cycle falls back to
    build_order, which names it.
    """
    waiting = {node: len(set(edges.get(node, ()))) for node in nodes}
    users = dependents({node: edges.get(node, ()) for node in nodes})
    ready = [(-weight.get(node, 0), node) for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for user in users.get(node, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (-weight.get(user, 0), user))
    if len(order) < len(waiting):
        return build_order(nodes, edges, where)  # raises ReferenceCycle naming the loop
    return order
