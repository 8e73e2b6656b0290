"""Pictures of X-Ray traces: one trace's waterfall, and the service map of a run (matplotlib).

>>> from lambdalab_ext.observe.trace_plots import waterfall, service_map     # doctest: +SKIP
>>> ax = waterfall(lab.traces.trace_of(result.request_id))                    # doctest: +SKIP
>>> ax = service_map(lab)                                                      # doctest: +SKIP
"""

from .traces import trace_segments, walk

__all__ = ["waterfall", "service_map", "INITIALIZATION_COLOR"]

INITIALIZATION_COLOR = "#ff9900"        # the cold start stands apart
_COLORS = {"AWS::Lambda": "#7aa6c2", "AWS::Lambda::Function": "#4c72b0", "Invocation": "#55a868",
           "Overhead": "#c7c7c7", "aws": "#8172b2", "remote": "#937860", "other": "#64b5cd"}
_FAULT_COLOR = "#c44e52"


def _axes(ax, size):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=size)
    return ax


def _color(entity, depth):
    if entity.get("fault") or entity.get("error"):
        return _FAULT_COLOR
    if depth == 0:
        return _COLORS.get(entity.get("origin"), _COLORS["other"])
    if entity.get("name") == "Initialization":
        return INITIALIZATION_COLOR
    if entity.get("name") in ("Invocation", "Overhead"):
        return _COLORS[entity["name"]]
    return _COLORS.get(entity.get("namespace"), _COLORS["other"])


def waterfall(trace, ax=None):
    """One horizontal bar per segment and subsegment on a time axis (milliseconds since the trace
    began), nested rows indented, the ``Initialization`` of a cold start in its own colour, faults
    red. ``trace``: a trace as ``BatchGetTraces`` returns it, or a list of segment documents.
    Returns the Axes.

    >>> ax = waterfall(lab.traces.trace_of(result.request_id))                    # doctest: +SKIP
    >>> [t.get_text() for t in ax.get_yticklabels()][:3]                          # doctest: +SKIP
    ['hello (AWS::Lambda)', 'hello (AWS::Lambda::Function)', '  Initialization']
    """
    segments = trace_segments(trace)
    if not segments:
        raise ValueError("The trace has no segments to draw.")
    rows = _rows(segments)
    t0 = min(e["start_time"] for _, e in rows)
    ax = _axes(ax, (9, 0.35 * len(rows) + 1.2))
    labels = []
    for row, (depth, entity) in enumerate(rows):
        start = (entity["start_time"] - t0) * 1000
        width = max((entity.get("end_time", entity["start_time"]) - entity["start_time"]) * 1000, 0.0)
        ax.barh(row, width, left=start, height=0.6, color=_color(entity, depth), edgecolor="none")
        ax.text(start + width, row, f" {width:.1f} ms", va="center", fontsize=8)
        label = entity["name"] if depth else f"{entity['name']} ({entity.get('origin', 'segment')})"
        if depth and entity.get("aws", {}).get("operation"):
            label += f" {entity['aws']['operation']}"
        labels.append("  " * depth + label)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("time since the trace began (ms)")
    ax.set_title(f"Trace {segments[0].get('trace_id', '')}")
    return ax


def _rows(segments):
    """``(depth, entity)`` in the order a reader follows the request: each segment's subsegments,
    and a downstream segment right below the call that caused it (segments at depth 0)."""
    ids = {e.get("id") for doc in segments for _, e in walk(doc)}
    below = {}
    for doc in segments:
        if doc.get("parent_id") in ids:
            below.setdefault(doc["parent_id"], []).append(doc)
    rows, seen = [], set()

    def emit(doc):
        if doc["id"] in seen:
            return
        seen.add(doc["id"])
        for depth, entity in walk(doc):
            rows.append((depth, entity))
            for child in below.get(entity.get("id"), ()):
                emit(child)
    for doc in segments:
        if doc.get("parent_id") not in ids:
            emit(doc)
    for doc in segments:                 # a cycle of parent ids: still drawn
        emit(doc)
    return rows


def service_map(lab_or_graph, ax=None):
    """The service map of a run: nodes (the client, each function's Lambda service and function,
    the AWS services they called) in columns from the client, edges labelled with their count and
    average latency. ``lab_or_graph``: a lab (its ``traces``), a ``TracesService``, or a
    ``GetServiceGraph`` answer. Returns the Axes.

    >>> ax = service_map(lab)                                                     # doctest: +SKIP
    """
    graph = lab_or_graph
    if hasattr(graph, "traces") and not isinstance(graph, dict):
        graph = graph.traces
    if hasattr(graph, "service_graph"):
        graph = graph.service_graph()
    services = {s["ReferenceId"]: s for s in graph.get("Services", [])}
    ax = _axes(ax, (10, 5))
    ax.set_axis_off()
    ax.set_title("Service map")
    if not services:
        ax.text(0.5, 0.5, "no traces yet", ha="center", va="center")
        return ax
    # Columns: the distance from the nodes nobody calls (the client first).
    called = {e["ReferenceId"] for s in services.values() for e in s.get("Edges", [])}
    column = {ref: 0 for ref in services if ref not in called}
    frontier = list(column)
    while frontier:
        nxt = []
        for ref in frontier:
            for e in services[ref].get("Edges", []):
                if e["ReferenceId"] not in column:
                    column[e["ReferenceId"]] = column[ref] + 1
                    nxt.append(e["ReferenceId"])
        frontier = nxt
    for ref in services:
        column.setdefault(ref, 0)
    by_column = {}
    for ref in sorted(services):
        by_column.setdefault(column[ref], []).append(ref)
    position = {}
    for col, refs in by_column.items():
        for i, ref in enumerate(refs):
            position[ref] = (col, -(i - (len(refs) - 1) / 2))
    for ref, s in services.items():
        x, y = position[ref]
        name = s.get("Name") or "client"
        ax.scatter([x], [y], s=900, color=_COLORS.get(s["Type"], _COLORS["other"]), zorder=2)
        ax.text(x, y - 0.28, f"{name}\n{s['Type']}", ha="center", va="top", fontsize=8)
        for e in s.get("Edges", []):
            tx, ty = position[e["ReferenceId"]]
            stats = e["SummaryStatistics"]
            count = stats["TotalCount"]
            average = stats["TotalResponseTime"] / count * 1000 if count else 0.0
            ax.annotate("", xy=(tx, ty), xytext=(x, y), zorder=1,
                        arrowprops={"arrowstyle": "->", "color": "#555555", "shrinkA": 16, "shrinkB": 16})
            ax.text((x + tx) / 2, (y + ty) / 2 + 0.08, f"{count} × {average:.1f} ms avg", ha="center", fontsize=7)
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.6)
    return ax
