"""How an ``InvocationResult`` looks: rich HTML for JupyterLab, plain text for terminals.

Pure formatting, no Lambda logic. Colours come from JupyterLab's theme variables (with fallbacks),
so the view reads well in light and dark themes.

A view never raises, whatever the function sent back: a response that is not JSON is shown as its
raw text, and a missing or odd field as a dash. What a view shows is bounded (both copies, HTML and
text, are saved in the notebook): the response up to ``PAYLOAD_SHOWN`` characters, the log's first
``LOG_HEAD_SHOWN`` and last ``LOG_TAIL_SHOWN`` characters (its REPORT line is at the end), each cut
marked with where the whole is: ``result.payload`` / ``result.raw_payload`` and ``result.logs``.
"""

import html
import json

PAYLOAD_SHOWN = 64 * 1024
LOG_HEAD_SHOWN = 48 * 1024
LOG_TAIL_SHOWN = 16 * 1024


def _fmt_ms(value):
    try:
        return "—" if value is None else f"{value:,.2f} ms"
    except (TypeError, ValueError):
        return "—"


def _usd(amount):
    """A tiny amount in dollars with enough digits to be read: $0.000000327 (``limits.format_usd``)."""
    from .limits import format_usd
    return format_usd(amount)


def _cost(result):
    try:
        return _usd(result.cost.total)
    except Exception:   # a result without the fields pricing reads
        return "—"


def _error(result):
    """The error object as a dict, whatever the runtime client posted."""
    error = result.error
    if error is None or isinstance(error, dict):
        return error
    return {"errorType": "", "errorMessage": str(error)}


def _cut_middle(text, head, tail, what, where):
    if len(text) <= head + tail:
        return text
    left = len(text) - head - tail
    return (f"{text[:head]}\n... lambdalab: {left:,} characters of the {what} not shown here; "
            f"all of it: {where} ...\n{text[-tail:]}")


def payload_text(result):
    """The response as indented JSON, or its raw text when it is not JSON; bounded."""
    error = _error(result)
    raw = result.raw_payload
    if raw is None and error is None:
        return "null"
    try:
        text = json.dumps(error if error is not None else json.loads(raw), indent=2, ensure_ascii=False,
                          default=str)
    except (ValueError, TypeError, RecursionError):
        # awslambdaric posts a returned ``bytes`` as it is; a deeply nested value defeats json.
        if isinstance(raw, (bytes, bytearray)):
            raw = bytes(raw).decode("utf-8", "replace")
        text = f"(the response is not JSON: its raw text follows, also in result.raw_payload)\n{raw}"
    if len(text) > PAYLOAD_SHOWN:
        text = (f"{text[:PAYLOAD_SHOWN]}\n... lambdalab: response cut here, {len(text) - PAYLOAD_SHOWN:,} "
                "more characters; all of it: result.payload (or result.raw_payload)")
    return text


def logs_text(result):
    """The log of the invocation, bounded: its head and its tail (where START / END / REPORT are)."""
    logs = result.logs if isinstance(result.logs, str) else ("" if result.logs is None else str(result.logs))
    return _cut_middle(logs, LOG_HEAD_SHOWN, LOG_TAIL_SHOWN, "log", "result.logs or %lambda logs "
                       f"{result.function_name}")


def summary_line(result):
    """One line: name, cold/warm, status, durations, memory, cost."""
    parts = [str(result.function_name), "cold start" if result.cold else "warm", str(result.status)]
    if result.init_duration_ms is not None:
        parts.append(f"init {_fmt_ms(result.init_duration_ms)}")
    parts.append(f"duration {_fmt_ms(result.duration_ms)}")
    parts.append(f"billed {result.billed_duration_ms} ms")
    if result.max_memory_used_mb is not None:
        parts.append(f"memory {result.max_memory_used_mb}/{result.memory_size_mb} MB")
    parts.append(f"cost {_cost(result)}")
    return " · ".join(parts)


def to_text(result):
    label = "Error" if result.error is not None else "Response"
    return f"{summary_line(result)}\n{label}:\n{payload_text(result)}\nLog output:\n{logs_text(result)}"


_STYLE = """
<style>
.lambdalab-result{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;
 border:1px solid var(--jp-border-color1,#ccc);border-radius:6px;padding:8px 10px;margin:4px 0;
 color:var(--jp-ui-font-color1,#222);background:var(--jp-layout-color0,#fff);max-width:100%}
.lambdalab-result .ll-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:6px}
.lambdalab-result .ll-name{font-weight:600}
.lambdalab-result .ll-badge{border-radius:10px;padding:1px 8px;font-size:11px;font-weight:600;color:#fff}
.lambdalab-result .ll-cold{background:#1f6feb}.lambdalab-result .ll-warm{background:#d97706}
.lambdalab-result .ll-success{background:#15803d}.lambdalab-result .ll-error,.lambdalab-result .ll-timeout{background:#b91c1c}
.lambdalab-result table.ll-metrics{border-collapse:collapse;margin:4px 0 8px 0}
.lambdalab-result table.ll-metrics td{padding:1px 12px 1px 0;text-align:left;vertical-align:middle}
.lambdalab-result .ll-k{color:var(--jp-ui-font-color2,#666)}
.lambdalab-result .ll-bar{display:inline-block;width:120px;height:8px;background:var(--jp-layout-color3,#ddd);
 border-radius:4px;overflow:hidden;vertical-align:middle;margin-right:6px}
.lambdalab-result .ll-bar>span{display:block;height:100%;background:#7c3aed}
.lambdalab-result pre{background:var(--jp-cell-editor-background,#f6f8fa);padding:6px 8px;border-radius:4px;
 margin:2px 0 6px 0;white-space:pre-wrap;word-break:break-word;max-height:24em;overflow:auto;font-size:12px}
.lambdalab-result summary{cursor:pointer;color:var(--jp-ui-font-color2,#666)}
.lambdalab-result .ll-section{font-weight:600;margin-top:4px}
</style>
"""


def _escape(value):
    return html.escape(str(value))   # any field may hold any type


def _memory_cell(result):
    used, size = result.max_memory_used_mb, result.memory_size_mb
    try:
        share = min(100.0, max(0.0, 100.0 * used / size))
    except (TypeError, ValueError, ZeroDivisionError):
        return f"{'—' if used is None else _escape(used)} of {_escape(size)} MB"
    return (f'<span class="ll-bar"><span style="width:{share:.1f}%"></span></span>'
            f"{used} MB of {size} MB")


def to_html(result):
    e = _escape
    mark = "cold" if result.cold else "warm"
    error = _error(result)
    rows = []
    if result.init_duration_ms is not None:
        rows.append(("Init duration", _fmt_ms(result.init_duration_ms)))
    rows.append(("Duration", _fmt_ms(result.duration_ms)))
    try:
        billed = f"{result.billed_duration_ms:,} ms"
    except (TypeError, ValueError):
        billed = f"{e(result.billed_duration_ms)} ms"
    rows.append(("Billed duration", billed))
    rows.append(("Max memory used", _memory_cell(result)))
    rows.append(("Cost", f"{_cost(result)} <span class='ll-k'>(us-east-1, tier 1, no free tier)</span>"))
    rows.append(("Request id", f"<code>{e(result.request_id)}</code>"))
    metrics = "".join(f'<tr><td class="ll-k">{k}</td><td>{v}</td></tr>' for k, v in rows)
    label = f"Error: {e(error.get('errorType', ''))}" if error is not None else "Response"
    logs = result.logs if isinstance(result.logs, str) else ""
    return (
        f'{_STYLE}<div class="lambdalab-result" data-status="{e(result.status)}" '
        f'data-cold="{str(bool(result.cold)).lower()}">'
        f'<div class="ll-head"><span class="ll-name">λ {e(result.function_name)}</span>'
        f'<span class="ll-badge ll-{mark}">{"cold start" if result.cold else "warm"}</span>'
        f'<span class="ll-badge ll-{e(result.status)}">{e(result.status)}</span></div>'
        f'<table class="ll-metrics">{metrics}</table>'
        f'<div class="ll-section">{label}</div><pre class="ll-payload">{e(payload_text(result))}</pre>'
        f'<details class="ll-logs"{" open" if error is not None else ""}><summary>Log output '
        f'({len(logs.splitlines()):,} lines: START / END / REPORT and what the function printed)</summary>'
        f'<pre>{e(logs_text(result))}</pre></details></div>'
    )
