"""The platform's log lines and billing rounding, checked against real Lambda lines."""

from lambdalab_ext import report


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
