"""The reference graph: dependencies before dependents, deterministic, cycles named in full."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetpipe.errors import ReferenceCycle, SourceError
from assetpipe.graph import build_order, dependents


def test_each_file_comes_after_everything_it_references() -> None:
    edges = {"app.css": ["base.css", "logo.png"], "base.css": ["font.woff"]}
    order = build_order(["app.css", "base.css", "font.woff", "logo.png"], edges)
    assert sorted(order) == ["app.css", "base.css", "font.woff", "logo.png"]
    assert order.index("font.woff") < order.index("base.css") < order.index("app.css")
    assert order.index("logo.png") < order.index("app.css")


def test_an_import_chain_is_ordered_deepest_first() -> None:
    edges = {"a.css": ["b.css"], "b.css": ["c.css"], "c.css": ["d.png"]}
    assert build_order(["a.css", "b.css", "c.css", "d.png"], edges) == ["d.png", "c.css", "b.css", "a.css"]


def test_the_order_is_the_same_whatever_order_the_nodes_come_in() -> None:
    edges = {"z.js": ["y.js"], "a.js": ["y.js", "b.png"]}
    nodes = ["a.js", "b.png", "y.js", "z.js", "lone.txt"]
    first = build_order(nodes, edges)
    assert build_order(list(reversed(nodes)), edges) == first
    assert first == ["y.js", "b.png", "a.js", "lone.txt", "z.js"]


def test_a_shared_dependency_appears_once() -> None:
    edges = {"a.css": ["x.png"], "b.css": ["x.png"], "c.css": ["a.css", "b.css"]}
    order = build_order(["a.css", "b.css", "c.css", "x.png"], edges)
    assert order.count("x.png") == 1
    assert order == ["x.png", "a.css", "b.css", "c.css"]


def test_no_nodes_no_order() -> None:
    assert build_order([], {}) == []


def test_a_two_file_cycle_names_the_whole_loop() -> None:
    with pytest.raises(ReferenceCycle) as info:
        build_order(["a.css", "b.css"], {"a.css": ["b.css"], "b.css": ["a.css"]})
    assert "reference cycle: a.css -> b.css -> a.css" in str(info.value)
    assert isinstance(info.value, SourceError)


def test_a_longer_cycle_names_every_file_in_it_and_nothing_outside_it() -> None:
    edges = {"entry.css": ["a.css"], "a.css": ["b.css"], "b.css": ["c.css"], "c.css": ["a.css"]}
    with pytest.raises(ReferenceCycle) as info:
        build_order(list(edges), edges)
    assert info.value.message == "reference cycle: a.css -> b.css -> c.css -> a.css"


def test_a_file_referencing_itself_is_a_cycle() -> None:
    with pytest.raises(ReferenceCycle, match=r"reference cycle: a\.js -> a\.js"):
        build_order(["a.js"], {"a.js": ["a.js"]})


def test_the_cycle_error_points_at_the_reference_that_closes_it() -> None:
    edges = {"a.css": ["b.css"], "b.css": ["a.css"]}
    where = {("a.css", "b.css"): (1, 9), ("b.css", "a.css"): (4, 12)}
    with pytest.raises(ReferenceCycle) as info:
        build_order(["a.css", "b.css"], edges, where)
    err = info.value
    assert (err.path, err.line, err.column) == ("b.css", 4, 12)
    assert str(err).startswith("b.css:4:12: reference cycle: a.css -> b.css -> a.css")


def test_a_very_deep_chain_does_not_hit_the_recursion_limit() -> None:
    names = [f"f{i:05}.css" for i in range(20_000)]
    edges = {a: [b] for a, b in itertools.pairwise(names)}
    order = build_order(names, edges)
    assert order == list(reversed(names))


def test_dependents_is_the_reverse_graph() -> None:
    edges = {"a.css": ["x.png", "b.css"], "b.css": ["x.png"], "x.png": []}
    assert dependents(edges) == {"x.png": {"a.css", "b.css"}, "b.css": {"a.css"}}


@st.composite
def acyclic_graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Nodes n0..nk with edges only from a higher to a lower index, so there is never a cycle."""
    count = draw(st.integers(min_value=0, max_value=25))
    nodes = [f"n{i}" for i in range(count)]
    edges = {
        node: draw(st.lists(st.sampled_from(nodes[:i]), unique=True, max_size=4)) if i else []
        for i, node in enumerate(nodes)
    }
    return draw(st.permutations(nodes)), edges


@settings(max_examples=200, deadline=None, derandomize=True)
@given(acyclic_graphs())
def test_any_acyclic_graph_is_ordered_with_every_dependency_first(
    graph: tuple[list[str], dict[str, list[str]]],
) -> None:
    nodes, edges = graph
    order = build_order(nodes, edges)
    assert sorted(order) == sorted(nodes)
    position = {node: i for i, node in enumerate(order)}
    for node, deps in edges.items():
        for dep in deps:
            assert position[dep] < position[node]
    assert build_order(sorted(nodes), edges) == order


def test_the_weighted_order_starts_with_the_heaviest_ready_file_and_keeps_dependencies_first() -> None:
    from assetpipe.graph import build_order_by_weight

    edges = {"app.css": ["big.png", "small.png"], "big.png": [], "small.png": [], "huge.js.map": []}
    weight = {"app.css": 10, "big.png": 500, "small.png": 5, "huge.js.map": 9000}
    order = build_order_by_weight(list(edges), edges, weight)
    assert order == ["huge.js.map", "big.png", "small.png", "app.css"]


def test_the_weighted_order_names_a_cycle_like_the_plain_one() -> None:
    from assetpipe.graph import build_order_by_weight

    edges = {"a.css": ["b.css"], "b.css": ["a.css"], "c.css": []}
    with pytest.raises(ReferenceCycle, match=r"a\.css -> b\.css -> a\.css"):
        build_order_by_weight(list(edges), edges, {"a.css": 1, "b.css": 1, "c.css": 1})
