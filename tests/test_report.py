"""The platform's log lines and billing rounding, checked against real Lambda lines; the result view."""

import dataclasses

import pytest

from lambdalab_ext import display, report
from lambdalab_ext.result import InvocationResult


def test_report_line_field_order_matches_lambda():
    # A real cold-start REPORT line (AWS blog "New for AWS Lambda – 1ms Billing Granularity" shape):
    # Init Duration comes after Max Memory Used.
    line = report.report_line("3d3e7a35-6d2a-4e45-a1b2-0c9b1e4b0f4e", 2.85, 3, 256, 41, 312.18)
    assert line == ("REPORT RequestId: 3d3e7a35-6d2a-4e45-a1b2-0c9b1e4b0f4e\tDuration: 2.85 ms\t"
                    "Billed Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 41 MB\tInit Duration: 312.18 ms")


def test_timeout_and_error_status_fields():
    assert report.report_line("id", 3000.0, 3000, 128, 50, status="timeout").endswith(
        "Max Memory Used: 50 MB\tStatus: timeout")
    assert report.report_line("id", 10.0, 10, 128, 128, status="error", error_type="Runtime.OutOfMemory").endswith(
        "\tStatus: error\tError Type: Runtime.OutOfMemory")
    assert report.timeout_line(0.0, "id", 3) == "1970-01-01T00:00:00.000Z id Task timed out after 3.00 seconds"


def test_start_end_init_lines():
    assert report.start_line("id") == "START RequestId: id Version: $LATEST"
    assert report.end_line("id") == "END RequestId: id"
    assert report.init_start_line("python:3.11.v1", "arn:aws:lambda:us-east-1::runtime:abc") == \
        "INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc"
    assert report.init_report_line(250.344, "error", "Runtime.ImportModuleError") == \
        "INIT_REPORT Init Duration: 250.34 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError"


def test_billing_rounds_up_to_the_millisecond_and_bills_init_since_2025():
    assert report.billed_duration_ms(2.85) == 3
    assert report.billed_duration_ms(3.0) == 3
    assert report.billed_duration_ms(0.2) == 1
    # Public REPORT excerpt (emulators.md §2.1): Duration 600000.00 ms, Init Duration 476.75 ms,
    # Billed Duration 600477 ms under the rule of 2025-08-01.
    assert report.billed_duration_ms(600000.00, 476.75) == 600477
    assert report.billed_duration_ms(600000.00, 476.75, init_billed=False) == 600000


def test_memory_in_whole_mb_capped_at_the_size():
    assert report.memory_mb(41 * 2**20, 256) == 41
    assert report.memory_mb(41 * 2**20 + 1, 256) == 42
    assert report.memory_mb(300 * 2**20, 256) == 256
    assert report.memory_mb(None, 256) is None


# -- the result view (display.py): never raises, bounded -------------------------------------------

REPORT = ("REPORT RequestId: id\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
          "Max Memory Used: 40 MB\n")
BASE = InvocationResult(
    function_name="odd", request_id="id", raw_payload=b'{"ok": true}', error=None, function_error=None,
    status="success", cold=False, duration_ms=1.0, billed_duration_ms=1, init_duration_ms=None,
    memory_size_mb=128, max_memory_used_mb=40, logs="START RequestId: id Version: $LATEST\n" + REPORT,
    environment_id="env", log_stream_name="stream")


def _views(result):
    return result._repr_html_(), str(result)


@pytest.mark.parametrize("changes, shown", [
    # awslambdaric posts a returned bytes as it is: not JSON, not even UTF-8.
    ({"raw_payload": b"\x89PNG\r\n\x1a\n<b>"}, "the response is not JSON"),
    # Nested deeper than json can decode: RecursionError, not ValueError.
    ({"raw_payload": b"[" * 100_000 + b"]" * 100_000}, "the response is not JSON"),
    ({"raw_payload": b""}, "the response is not JSON"),
    # A runtime client may post any JSON as its error, and leave fields out.
    ({"error": "just a string", "status": "error", "raw_payload": None}, "just a string"),
    ({"error": {}, "status": "error", "raw_payload": None}, "{}"),
    ({"error": {"errorType": 7, "stackTrace": "not a list"}, "status": "error"}, "not a list"),
    # Fields a result built by hand may not have.
    ({"duration_ms": None, "billed_duration_ms": None, "max_memory_used_mb": 10, "memory_size_mb": 0}, "—"),
    ({"max_memory_used_mb": "?", "status": None, "cold": None}, "?"),
])
def test_the_view_never_raises_on_odd_results(changes, shown):
    html, text = _views(dataclasses.replace(BASE, **changes))
    assert 'class="lambdalab-result"' in html and "Log output" in text
    assert display.html.escape(shown) in html and shown in text


def test_the_view_bounds_a_huge_response_and_log_and_says_where_the_rest_is():
    huge_log = ("START RequestId: id Version: $LATEST\n" + "".join(f"line {i:07d}\n" for i in range(400_000))
                + REPORT)
    payload = ('"' + "y" * 6_000_000 + '"').encode()        # a 6 MB response, the most Lambda returns
    result = dataclasses.replace(BASE, raw_payload=payload, logs=huge_log)
    html, text = _views(result)
    for view in (html, text):
        assert len(view) < display.PAYLOAD_SHOWN + display.LOG_HEAD_SHOWN + display.LOG_TAIL_SHOWN + 10_000
        assert "line 0000000" in view and "REPORT RequestId: id" in view   # the head and the tail (REPORT)
        assert "line 0200000" not in view
        assert "response cut here" in view and "result.payload" in view
        assert "of the log not shown here; all of it: result.logs or %lambda logs odd" in view
    assert "400,002 lines" in html        # the count is of the whole log
    assert result.payload == "y" * 6_000_000 and result.logs == huge_log    # the result itself is whole


def test_the_view_of_an_ordinary_result_is_whole():
    html, text = _views(BASE)
    assert '"ok": true' in text and "lambdalab:" not in text and "lambdalab:" not in html
    assert text.endswith(BASE.logs)
