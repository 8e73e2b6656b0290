"""How an ``InvocationResult`` looks: rich HTML for JupyterLab, plain text for terminals.

Pure formatting, no Lambda logic. Colours come from JupyterLab's theme variables (with fallbacks),
so the view reads well in light and dark themes.
"""

import html
import json


def _fmt_ms(value):
    return "—" if value is None else f"{value:,.2f} ms"


def _usd(amount):
    """A tiny amount in dollars with enough digits to be read: $0.000000327."""
    value = float(amount)
    if value == 0:
        return "$0"
    if value >= 0.01:
        return f"${value:,.2f}"
    digits = 3 - int(f"{value:e}".split("e")[1]) - 1   # three significant digits
    return f"${value:.{max(digits, 2)}f}"


def payload_text(result):
    if result.raw_payload is None and result.error is None:
        return "null"
    return json.dumps(result.payload, indent=2, ensure_ascii=False, default=str)


def summary_line(result):
    """One line: name, cold/warm, status, durations, memory, cost."""
    parts = [result.function_name, "cold start" if result.cold else "warm", result.status]
    if result.init_duration_ms is not None:
        parts.append(f"init {_fmt_ms(result.init_duration_ms)}")
    parts.append(f"duration {_fmt_ms(result.duration_ms)}")
    parts.append(f"billed {result.billed_duration_ms} ms")
    if result.max_memory_used_mb is not None:
        parts.append(f"memory {result.max_memory_used_mb}/{result.memory_size_mb} MB")
    parts.append(f"cost {_usd(result.cost.total)}")
    return " · ".join(parts)


def to_text(result):
    label = "Error" if result.error is not None else "Response"
    return f"{summary_line(result)}\n{label}:\n{payload_text(result)}\nLog output:\n{result.logs}"


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


def to_html(result):
    e = html.escape
    mark = "cold" if result.cold else "warm"
    rows = []
    if result.init_duration_ms is not None:
        rows.append(("Init duration", _fmt_ms(result.init_duration_ms)))
    rows.append(("Duration", _fmt_ms(result.duration_ms)))
    rows.append(("Billed duration", f"{result.billed_duration_ms:,} ms"))
    if result.max_memory_used_mb is not None:
        share = min(100.0, 100.0 * result.max_memory_used_mb / result.memory_size_mb)
        memory = (f'<span class="ll-bar"><span style="width:{share:.1f}%"></span></span>'
                  f"{result.max_memory_used_mb} MB of {result.memory_size_mb} MB")
    else:
        memory = f"— of {result.memory_size_mb} MB"
    rows.append(("Max memory used", memory))
    rows.append(("Cost", f"{_usd(result.cost.total)} <span class='ll-k'>(us-east-1, tier 1, no free tier)</span>"))
    rows.append(("Request id", f"<code>{e(result.request_id)}</code>"))
    metrics = "".join(f'<tr><td class="ll-k">{k}</td><td>{v}</td></tr>' for k, v in rows)
    label = f"Error: {e(result.error.get('errorType', ''))}" if result.error is not None else "Response"
    return (
        f'{_STYLE}<div class="lambdalab-result" data-status="{e(result.status)}" data-cold="{str(result.cold).lower()}">'
        f'<div class="ll-head"><span class="ll-name">λ {e(result.function_name)}</span>'
        f'<span class="ll-badge ll-{mark}">{"cold start" if result.cold else "warm"}</span>'
        f'<span class="ll-badge ll-{e(result.status)}">{e(result.status)}</span></div>'
        f'<table class="ll-metrics">{metrics}</table>'
        f'<div class="ll-section">{label}</div><pre class="ll-payload">{e(payload_text(result))}</pre>'
        f'<details class="ll-logs"{" open" if not result.ok else ""}><summary>Log output '
        f'({len(result.logs.splitlines())} lines: START / END / REPORT and what the function printed)</summary>'
        f'<pre>{e(result.logs)}</pre></details></div>'
    )
