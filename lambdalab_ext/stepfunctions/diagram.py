"""Seeing a workflow: its diagram coloured by what an execution did, a timeline, a history table.

- :func:`draw`: the state machine as boxes laid out top-down in layers (each state one layer below
  the first state that leads to it), arrows for ``Next``, ``Choices``/``Default`` (labelled) and
  ``Catch`` (dashed); a Parallel state is a group holding its branches side by side, a Map state a
  group holding its item processor. With an execution, each box is coloured by what happened to
  it: succeeded, retried (succeeded after a failed attempt), caught (failed, and a Catch moved on),
  failed, running, or not run (see :data:`STATUS_COLOURS`; the legend says which is which).
- :func:`timeline`: which state ran when on the lab clock (seconds from the execution's start):
  one row per state, a pale bar for each visit and a bar per task attempt (red when it failed), so
  retries and their backoff show as gaps.
- :func:`history_table`: the history as rows (id, type, state, seconds from the start, detail),
  a list of dicts that renders as an HTML table in a notebook.

Each box is a patch whose ``gid`` is ``state:<name>``, each attempt bar ``attempt:<name>:<n>``, so
a test reads the Axes rather than pixels.

>>> fig, ax = plt.subplots()                                                         # doctest: +SKIP
>>> draw(definition, execution, ax=ax)                                               # doctest: +SKIP
>>> outcomes(execution)["Charge"].status                                             # doctest: +SKIP
'retried'
"""

import dataclasses
import json

SUCCEEDED, RETRIED, CAUGHT, FAILED, RUNNING, NOT_RUN = "succeeded", "retried", "caught", "failed", "running", "not run"
STATUS_COLOURS = {
    SUCCEEDED: "#a5d6a7",      # green
    RETRIED: "#fff59d",        # yellow: it worked, after a failed attempt
    CAUGHT: "#ffcc80",         # orange: it failed and a Catch handled it
    FAILED: "#ef9a9a",         # red
    RUNNING: "#90caf9",        # blue
    NOT_RUN: "#eeeeee",        # grey
}
_SEVERITY = [NOT_RUN, SUCCEEDED, RETRIED, RUNNING, CAUGHT, FAILED]
_FAILURES = {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
             "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
             "ParallelStateFailed", "MapStateFailed"}
_ATTEMPT_START = {"TaskScheduled", "LambdaFunctionScheduled", "ParallelStateStarted", "MapStateStarted"}
_ATTEMPT_OK = {"TaskSucceeded", "LambdaFunctionSucceeded", "ParallelStateSucceeded", "MapStateSucceeded"}

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 2.6, 0.7, 0.5, 0.6, 0.35
MIN_BAR_S = 0.02            # the shortest bar a timeline draws (seconds)


# ------------------------------------------------------------------------------ what happened

@dataclasses.dataclass
class Visit:
    """One entry into a state: when (seconds from the start), its attempts, how it ended."""

    name: str
    type: str
    entered: float
    exited: float = None
    attempts: list = dataclasses.field(default_factory=list)   # [start, end, ok]
    failures: int = 0
    last_failed: bool = False


@dataclasses.dataclass
class Outcome:
    """What happened to one state over an execution (all its visits)."""

    status: str = NOT_RUN
    visits: int = 0
    attempts: int = 0
    failures: int = 0


def _seconds(event, start):
    return (event["timestamp"] - start).total_seconds()


def visits(execution):
    """The execution's state visits, in the order they began (Map iterations each count)."""
    events = list(execution.history)
    if not events:
        return []
    start = events[0]["timestamp"]
    visit_of = {}                  # event id -> Visit
    found = []
    for event in events:
        kind = event["type"]
        at = _seconds(event, start)
        if kind.endswith("StateEntered"):
            visit = Visit(event["stateEnteredEventDetails"]["name"], kind[:-len("StateEntered")], at)
            found.append(visit)
        else:
            visit = visit_of.get(event["previousEventId"])
        visit_of[event["id"]] = visit
        if visit is None:
            continue
        if kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] == visit.name:
            visit.exited = at
        elif kind in _ATTEMPT_START:
            visit.attempts.append([at, None, None])
        elif kind in _ATTEMPT_OK and visit.attempts:
            visit.attempts[-1][1:] = [at, True]
            visit.last_failed = False
        elif kind in _FAILURES:
            if visit.attempts and visit.attempts[-1][1] is None:
                visit.attempts[-1][1:] = [at, False]
            visit.failures += 1
            visit.last_failed = True
    return found


def outcomes(execution):
    """``{state name: Outcome}`` for every state the execution entered."""
    out = {}
    done = execution.done
    for visit in visits(execution):
        if visit.type == "Fail":
            status = FAILED
        elif visit.exited is not None:
            status = CAUGHT if visit.last_failed else RETRIED if visit.failures else SUCCEEDED
        elif not done:
            status = RUNNING
        else:
            status = FAILED
        o = out.setdefault(visit.name, Outcome())
        o.visits += 1
        o.attempts += len(visit.attempts)
        o.failures += visit.failures
        if _SEVERITY.index(status) > _SEVERITY.index(o.status):
            o.status = status
    return out


# ------------------------------------------------------------------------------------- layout

@dataclasses.dataclass
class _Box:
    name: str
    state: dict
    w: float
    h: float
    x: float = 0.0          # centre, relative to the block
    y: float = 0.0          # top, relative to the block (downward negative)
    children: list = dataclasses.field(default_factory=list)   # (block, dx, dy) for groups


@dataclasses.dataclass
class _Block:
    boxes: dict
    w: float
    h: float
    start: str


def _targets(state):
    """(target, label, kind) of every transition out of ``state``."""
    out = []
    if state.get("Next"):
        out.append((state["Next"], "", "next"))
    for i, choice in enumerate(state.get("Choices") or []):
        if choice.get("Next"):
            out.append((choice["Next"], f"rule {i + 1}", "choice"))
    if state.get("Default"):
        out.append((state["Default"], "Default", "choice"))
    for catcher in state.get("Catch") or []:
        if catcher.get("Next"):
            out.append((catcher["Next"], "Catch " + ",".join(catcher.get("ErrorEquals", [])), "catch"))
    return out


def _layout(machine):
    states = machine.get("States") or {}
    start = machine.get("StartAt")
    layer = {}
    order = []
    frontier = [start] if start in states else []
    if frontier:
        layer[start] = 0
    while frontier:
        following = []
        for name in frontier:
            order.append(name)
            for target, _, _ in _targets(states[name]):
                if target in states and target not in layer:
                    layer[target] = layer[name] + 1
                    following.append(target)
        frontier = following
    last = max(layer.values(), default=-1)
    for name in states:                      # unreachable states: a row of their own at the bottom
        if name not in layer:
            layer[name] = last + 1
            order.append(name)
    boxes = {}
    for name in order:
        state = states[name]
        box = _Box(name, state, BOX_W, BOX_H)
        inner = []
        if state.get("Type") == "Parallel":
            inner = [_layout(branch) for branch in state.get("Branches") or []]
        elif state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            inner = [_layout(processor)] if isinstance(processor, dict) else []
        if inner:
            width = sum(b.w for b in inner) + GAP_X * (len(inner) - 1) + 2 * PAD
            height = max(b.h for b in inner) + 2 * PAD + 0.4
            box.w, box.h = max(BOX_W, width), height
            dx = -width / 2 + PAD
            for block in inner:
                box.children.append((block, dx + block.w / 2, -PAD - 0.4))
                dx += block.w + GAP_X
        boxes[name] = box
    rows = {}
    for name in order:
        rows.setdefault(layer[name], []).append(boxes[name])
    y = 0.0
    width = 0.0
    for index in sorted(rows):
        row = rows[index]
        row_w = sum(b.w for b in row) + GAP_X * (len(row) - 1)
        x = -row_w / 2
        for box in row:
            box.x, box.y = x + box.w / 2, y
            x += box.w + GAP_X
        width = max(width, row_w)
        y -= max(b.h for b in row) + GAP_Y
    return _Block(boxes, width, -y - GAP_Y if rows else 0.0, start)


# -------------------------------------------------------------------------------------- drawing

def draw(definition, execution=None, ax=None, *, title=None):
    """Draw the state machine ``definition`` (dict or ASL text) on ``ax`` (a new figure if None),
    coloured by ``execution`` when given. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    machine = json.loads(definition) if isinstance(definition, str) else definition
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 8))
    status = {name: o.status for name, o in outcomes(execution).items()} if execution is not None else {}
    block = _layout(machine)
    centres = {}
    _draw_block(ax, block, 0.0, 0.0, status, centres, execution is not None)
    first = centres.get(block.start)
    if first:
        ax.annotate("Start", xy=(first[0], first[1] + first[3] / 2), xytext=(first[0], first[1] + first[3] / 2 + 0.5),
                    ha="center", fontsize=8, arrowprops=dict(arrowstyle="->", color="#555555"))
    ax.set_xlim(-block.w / 2 - 1.5, block.w / 2 + 1.5)
    ax.set_ylim(-block.h - 0.5, 1.2)
    ax.set_aspect("auto")
    ax.axis("off")
    if execution is not None:
        shown = [s for s in _SEVERITY if s in set(status.values()) or s == NOT_RUN]
        ax.legend(handles=[Patch(facecolor=STATUS_COLOURS[s], edgecolor="#555555", label=s) for s in shown],
                  loc="lower right", fontsize=7, frameon=False)
        ax.set_title(title or f"{execution.name}: {execution.status}", fontsize=10)
    elif title:
        ax.set_title(title, fontsize=10)
    return ax


def _draw_block(ax, block, ox, oy, status, centres, coloured):
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    for box in block.boxes.values():
        cx, top = ox + box.x, oy + box.y
        cy = top - box.h / 2
        centres[box.name] = (cx, cy, box.w, box.h)
        kind = box.state.get("Type", "?")
        colour = STATUS_COLOURS[status.get(box.name, NOT_RUN)] if coloured else "#ffffff"
        group = bool(box.children)
        patch = FancyBboxPatch((cx - box.w / 2, top - box.h), box.w, box.h,
                               boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=colour,
                               edgecolor="#37474f", linewidth=1.0, linestyle="--" if group else "-",
                               alpha=0.55 if group else 1.0, zorder=1 if group else 2)
        patch.set_gid(f"state:{box.name}")
        ax.add_patch(patch)
        if group:
            ax.text(cx, top - 0.22, f"{box.name} ({kind})", ha="center", va="center", fontsize=8,
                    fontweight="bold", zorder=3)
            for inner, dx, dy in box.children:
                _draw_block(ax, inner, cx + dx, top + dy, status, centres, coloured)
        else:
            ax.text(cx, cy + 0.1, box.name, ha="center", va="center", fontsize=8, fontweight="bold", zorder=3)
            ax.text(cx, cy - 0.18, kind, ha="center", va="center", fontsize=6, color="#546e7a", zorder=3)
    for box in block.boxes.values():
        sx, sy, _, sh = centres[box.name]
        edges = {}              # one arrow per target and kind, its labels joined ("rule 1 / Default")
        for target, label, kind in _targets(box.state):
            key = (target, kind == "catch")
            edges.setdefault(key, []).append(label)
        for (target, catch), labels in edges.items():
            if target not in block.boxes:
                continue
            label = " / ".join(l for l in labels if l)
            tx, ty, _, th = centres[target]
            back = ty + th / 2 >= sy - sh / 2
            start = (sx, sy - sh / 2)
            end = (tx, ty + th / 2)
            style = "arc3,rad=-0.5" if back else "arc3,rad=0.0"
            if back:
                start, end = (sx + box.w / 2, sy), (tx + block.boxes[target].w / 2, ty)
            arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, connectionstyle=style,
                                    color="#c62828" if catch else "#455a64",
                                    linestyle="--" if catch else "-", linewidth=1.0, zorder=2.5)
            arrow.set_gid(f"edge:{box.name}->{target}")
            ax.add_patch(arrow)
            if label:
                ax.text((start[0] + end[0]) / 2 + 0.1, (start[1] + end[1]) / 2, label, fontsize=6,
                        color="#c62828" if catch else "#455a64", zorder=3)
        if box.state.get("End") or box.state.get("Type") in ("Succeed", "Fail"):
            ax.text(sx, sy - sh / 2 - 0.2, "End", ha="center", va="center", fontsize=6, color="#78909c")


def timeline(execution, ax=None):
    """Which state ran when, on the lab clock (seconds from the start); returns the Axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    found = visits(execution)
    end = max([v.exited or 0 for v in found] + [a[1] or 0 for v in found for a in v.attempts] + [0.0])
    if execution.stop_date is not None and found:
        end = max(end, (execution.stop_date - execution.start_date).total_seconds())
    rows = list(dict.fromkeys(v.name for v in found))
    index = {name: i for i, name in enumerate(rows)}
    counts = {}
    for visit in found:
        row = index[visit.name]
        stop = visit.exited if visit.exited is not None else end
        bar = ax.barh(row, max(stop - visit.entered, MIN_BAR_S), left=visit.entered, height=0.7,
                      color=STATUS_COLOURS[SUCCEEDED if visit.exited is not None and not visit.last_failed
                                           else CAUGHT if visit.exited is not None else FAILED if execution.done
                                           else RUNNING], alpha=0.35, edgecolor="none")
        bar.patches[0].set_gid(f"visit:{visit.name}")
        # A state that takes no time (Choice, Pass, Succeed) is a tick where it happened.
        ax.plot([visit.entered], [row], marker="|", markersize=12, color="#455a64")
        for start, stop_at, ok in visit.attempts:
            n = counts[visit.name] = counts.get(visit.name, 0) + 1
            stop_at = stop_at if stop_at is not None else end
            bar = ax.barh(row, max(stop_at - start, MIN_BAR_S), left=start, height=0.35,
                          color="#2e7d32" if ok else "#c62828" if ok is False else "#1565c0")
            bar.patches[0].set_gid(f"attempt:{visit.name}:{n}")
    ax.set_xlim(0, end * 1.03 + MIN_BAR_S)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.invert_yaxis()
    ax.set_xlabel("lab time since the execution started (s)")
    ax.set_title(f"{execution.name}: {execution.status}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax


class HistoryTable(list):
    """The history as rows of dicts; shows as an HTML table in a notebook."""

    COLUMNS = ("id", "type", "state", "at_s", "detail")

    def _repr_html_(self):
        import html
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in self.COLUMNS) + "</tr>"
                       for row in self)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _detail(event):
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            if "error" in value:
                return f"{value['error']}: {value.get('cause', '')}"[:120]
            if "resource" in value:
                return f"{value.get('resourceType', 'lambda')}:{value['resource']}"[-120:]
            if "index" in value:
                return f"item {value['index']}"
            if "output" in value:
                return value["output"][:120]
            if "input" in value:
                return value["input"][:120]
    return ""


def history_table(execution):
    """The execution's history as a :class:`HistoryTable` (id, type, state, at_s, detail)."""
    events = list(execution.history)
    rows = HistoryTable()
    if not events:
        return rows
    start = events[0]["timestamp"]
    state_of = {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered") or kind.endswith("StateExited"):
            details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
            state = details["name"]
        else:
            state = state_of.get(event["previousEventId"], "")
        state_of[event["id"]] = state
        rows.append({"id": event["id"], "type": kind, "state": state,
                     "at_s": round(_seconds(event, start), 3), "detail": _detail(event)})
    return rows
