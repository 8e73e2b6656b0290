"""The process fallback: weaker, but limits still hold and it says what it is."""

import textwrap

import pytest


@pytest.fixture
def process_lab(make_lab):
    return make_lab("process")


def test_it_says_it_is_weaker(process_lab):
    assert process_lab.backend.name == "process"
    assert "WEAKER" in process_lab.isolation


def test_limits_and_own_tmp(process_lab):
    source = textwrap.dedent("""
        import os, tempfile
        def handler(event, context):
            limits = {}
            for line in open("/proc/self/limits"):
                for name in ("Max cpu time", "Max file size", "Max open files"):
                    if line.startswith(name):
                        limits[name] = line[len(name):].split()[:2]
            return {"limits": limits, "tmp": tempfile.gettempdir(), "root": os.environ["LAMBDA_TASK_ROOT"]}
    """)
    fn = process_lab.deploy("limits", source, memory_mb=256, timeout_s=5, ephemeral_storage_mb=600)
    p = fn.invoke({}).payload
    soft, hard = (int(x) for x in p["limits"]["Max cpu time"])
    assert 5 <= soft <= 10 and hard == soft + 1        # the timeout's worth of CPU time, and a little
    assert p["limits"]["Max file size"] == [str(600 * 1024 * 1024)] * 2
    assert p["limits"]["Max open files"] == ["1024", "1024"]
    assert p["tmp"].startswith(process_lab.workdir) and p["root"].startswith(process_lab.workdir)
    other = process_lab.deploy("other", source, memory_mb=256).invoke({}).payload
    assert other["tmp"] != p["tmp"]                     # each environment has its own temporary folder


def test_memory_over_the_limit_is_killed(process_lab):
    source = textwrap.dedent("""
        def handler(event, context):
            hog = []
            while True:
                hog.append(bytearray(8 * 1024 * 1024))
    """)
    r = process_lab.deploy("hog", source, memory_mb=128, timeout_s=30).invoke({})
    assert r.error["errorType"] == "Runtime.OutOfMemory"
    assert r.max_memory_used_mb == 128
