"""State diagrams drawn from the machines themselves, as inline SVG (no browser library).

``graph_of(spec)`` builds the ``transitions.Machine`` with the engine's own helper
(``build_machine``) and reads its states and events back, so the picture is the definition the
shards run, not a copy of it. ``svg(graph)`` lays the states out in columns (longest path from
the initial state, cycles broken where a depth-first walk meets a state it is still inside) and
draws forward edges left to right, back edges underneath and self-transitions as loops above.
``mermaid(graph)`` is the same graph as transitions' own Mermaid output, shown as the source.
Pure: no I/O, called once per machine at import of the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from transitions.extensions.diagrams import GraphMachine

from ..machines.spec import MachineSpec, build_machine

NODE_W, NODE_H = 150, 64
COL_GAP, ROW_GAP = 130, 56
MARGIN_X = 48


@dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    triggers: tuple[str, ...]


@dataclass(frozen=True)
class Graph:
    name: str
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...]
    edges: tuple[Edge, ...]


def _ignore(event: Any) -> None:
    """The diagram's machine never fires; persistence hooks have nothing to do."""


def graph_of(spec: MachineSpec) -> Graph:
    machine = build_machine(spec, _ignore)
    grouped: dict[tuple[str, str], list[str]] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                grouped.setdefault((source, str(t.dest)), []).append(trigger)
    edges = tuple(Edge(s, d, tuple(ts)) for (s, d), ts in grouped.items())
    return Graph(spec.name, tuple(machine.states), str(machine.initial), tuple(spec.final), edges)


def mermaid(graph: Graph) -> str:
    """transitions' diagrams extension rendering the same states and edges as Mermaid."""
    machine = GraphMachine(
        model=None, states=list(graph.states), initial=graph.initial, auto_transitions=False,
        graph_engine="mermaid", title=graph.name,
        transitions=[{"trigger": t, "source": e.source, "dest": e.dest}
                     for e in graph.edges for t in e.triggers])

    class _Model:
        pass

    model = _Model()
    machine.add_model(model)
    text: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return text


def _layers(graph: Graph) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Column of each state, and the edges that close a cycle (drawn as back edges)."""
    out: dict[str, list[str]] = {s: [] for s in graph.states}
    for e in graph.edges:
        if e.source != e.dest:
            out[e.source].append(e.dest)
    back: set[tuple[str, str]] = set()
    visiting: set[str] = set()
    done: set[str] = set()

    def walk(state: str) -> None:
        visiting.add(state)
        for nxt in out[state]:
            if nxt in visiting:
                back.add((state, nxt))
            elif nxt not in done:
                walk(nxt)
        visiting.discard(state)
        done.add(state)

    walk(graph.initial)
    for state in graph.states:
        if state not in done:
            walk(state)
    layer = {s: 0 for s in graph.states}
    for _ in graph.states:  # longest path over the acyclic rest: at most |states| rounds
        for e in graph.edges:
            if e.source != e.dest and (e.source, e.dest) not in back:
                layer[e.dest] = max(layer[e.dest], layer[e.source] + 1)
    return layer, back


def _mid(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float],
         p3: tuple[float, float]) -> tuple[float, float]:
    """The point at t = 0.5 of a cubic Bezier curve."""
    return ((p0[0] + 3 * p1[0] + 3 * p2[0] + p3[0]) / 8,
            (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8)


def _path(points: list[tuple[float, float]]) -> str:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    return f"M{x0:.0f},{y0:.0f} C{x1:.0f},{y1:.0f} {x2:.0f},{y2:.0f} {x3:.0f},{y3:.0f}"


def svg(graph: Graph) -> str:
    """The diagram as an ``<svg>`` element. Each state is a ``g.state[data-state]`` holding a
    ``text[data-count-for]`` that the page fills with the live count.

    Edges between neighbouring columns are S-curves; an edge that skips a column or goes back
    is an arc above the states (when its ends sit in the upper half) or below them, each on a
    lane of its own so that arcs never run through a state or on top of each other.
    """
    layer, back = _layers(graph)
    columns: dict[int, list[str]] = {}
    for state in graph.states:
        columns.setdefault(layer[state], []).append(state)
    rows = max(len(c) for c in columns.values())
    arcs = [e for e in graph.edges if e.source != e.dest
            and ((e.source, e.dest) in back or layer[e.dest] - layer[e.source] != 1)]
    loops = [e for e in graph.edges if e.source == e.dest]
    rel: dict[str, float] = {}
    for states in columns.values():
        for i, state in enumerate(states):
            rel[state] = (rows - len(states)) / 2 + i  # row position, possibly half-way
    middle = (rows - 1) / 2

    def above(e: Edge) -> bool:
        return (rel[e.source] + rel[e.dest]) / 2 < middle

    n_above = sum(1 for e in arcs if above(e))
    n_below = len(arcs) - n_above
    top = max(84, 60 + 14 * max((len(e.triggers) for e in loops), default=0),
              50 + 30 * n_above)
    pos = {s: (MARGIN_X + 40 + layer[s] * (NODE_W + COL_GAP), top + rel[s] * (NODE_H + ROW_GAP))
           for s in graph.states}
    bottom = top + rows * (NODE_H + ROW_GAP) - ROW_GAP
    width = MARGIN_X * 2 + 40 + len(columns) * (NODE_W + COL_GAP) - COL_GAP
    height = bottom + 30 + 30 * n_below
    marker = f"arrow-{graph.name}"
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="machine-diagram" role="img"'
             f' viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}"'
             f' height="{height:.0f}" data-machine={quoteattr(graph.name)}>'),
             f'<title>{escape(graph.name)} state machine</title>',
             (f'<defs><marker id={quoteattr(marker)} viewBox="0 0 10 10" refX="9" refY="5"'
             ' markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M0,0 L10,5 L0,10 z" class="arrow-head"/></marker></defs>')]
    ix, iy = pos[graph.initial]
    parts.append(f'<circle class="initial" cx="{MARGIN_X:.0f}" cy="{iy + NODE_H / 2:.0f}" r="7"/>')
    parts.append(f'<path class="edge" marker-end="url(#{marker})"'
                 f' d="M{MARGIN_X + 8:.0f},{iy + NODE_H / 2:.0f} L{ix:.0f},{iy + NODE_H / 2:.0f}"/>')
    spread = (-28, 28, 0, -52, 52, -14, 14)
    ends: dict[tuple[str, bool], int] = {}

    def end_x(state: str, up: bool) -> float:
        n = ends.get((state, up), 0)
        ends[(state, up)] = n + 1
        return pos[state][0] + NODE_W / 2 + spread[n % len(spread)]

    lanes = {True: 0, False: 0}
    for e in graph.edges:
        sx, sy = pos[e.source]
        dx, dy = pos[e.dest]
        lines = list(e.triggers)
        pts: list[tuple[float, float]]
        lx: float
        ly: float
        if e.source == e.dest:
            pts = [(sx + 35, sy), (sx + 25, sy - 62), (sx + NODE_W - 25, sy - 62),
                   (sx + NODE_W - 35, sy)]
            lx, ly = sx + NODE_W / 2, sy - 52
        elif e in arcs:
            up = above(e)
            lanes[up] += 1
            if up:
                y: float = top - 18 - 30 * lanes[up]
                pts = [(end_x(e.source, up), sy), (0.0, y), (0.0, y), (end_x(e.dest, up), dy)]
                ly = y + 17
            else:
                y = bottom + 14 + 30 * lanes[up]
                pts = [(end_x(e.source, up), sy + NODE_H), (0.0, y), (0.0, y),
                       (end_x(e.dest, up), dy + NODE_H)]
                ly = y - 13
            # Control points straight above/below the ends: the arc leaves a state vertically.
            pts[1] = (pts[0][0], pts[1][1] + (pts[1][1] - pts[0][1]) / 3)
            pts[2] = (pts[3][0], pts[2][1] + (pts[2][1] - pts[3][1]) / 3)
            lx = (pts[0][0] + pts[3][0]) / 2
            lines = [", ".join(e.triggers)]
        else:
            pts = [(sx + NODE_W, sy + NODE_H / 2), (sx + NODE_W + COL_GAP / 2, sy + NODE_H / 2),
                   (dx - COL_GAP / 2, dy + NODE_H / 2), (dx, dy + NODE_H / 2)]
            lx, ly = _mid(*pts)
            ly -= 6
            lines = [", ".join(e.triggers)]
        label = "".join(f'<tspan x="{lx:.0f}" y="{ly - 14 * i:.0f}">{escape(t)}</tspan>'
                        for i, t in enumerate(lines))
        parts.append(f'<g class="transition" data-from={quoteattr(e.source)}'
                     f' data-to={quoteattr(e.dest)}>'
                     f'<path class="edge" marker-end="url(#{marker})" d="{_path(pts)}"/>'
                     f'<text class="edge-label" text-anchor="middle">{label}</text></g>')
    for state in graph.states:
        x, y = pos[state]
        final = state in graph.final
        parts.append(
            f'<g class="state{" final" if final else ""}" data-state={quoteattr(state)}'
            f' data-test-id={quoteattr("state-" + state)}>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="12"/>'
            + (f'<rect class="inner" x="{x + 4:.0f}" y="{y + 4:.0f}" width="{NODE_W - 8}"'
               f' height="{NODE_H - 8}" rx="9"/>' if final else "")
            + f'<text class="state-name" x="{x + NODE_W / 2:.0f}" y="{y + 25:.0f}"'
            f' text-anchor="middle">{escape(state)}</text>'
            f'<text class="count" x="{x + NODE_W / 2:.0f}" y="{y + 49:.0f}" text-anchor="middle"'
            f' data-count-for={quoteattr(state)}>0</text></g>')
    parts.append("</svg>")
    return "".join(parts)
