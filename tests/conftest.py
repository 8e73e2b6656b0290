"""Shared fixtures: a Lab per backend, on the real Docker engine and on real subprocesses.

Docker tests are skipped only where no engine answers, and never in CI: under CI=true a missing
engine is a failure, not a skip.
"""

import os

import pytest

from lambdalab_ext.runtime.docker import LABEL, docker_client

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_client = docker_client()


def require_docker():
    if _client is None:
        if IN_CI:
            pytest.fail("CI must run the Docker tests, but no Docker engine answers.")
        pytest.skip("no Docker engine answers on this machine (these tests run in CI)")
    return _client


@pytest.fixture(scope="session")
def docker_engine():
    return require_docker()


@pytest.fixture(scope="session")
def runtime_image(docker_engine):
    from lambdalab_ext.runtime.image import ensure_runtime_image
    return ensure_runtime_image(docker_engine)


def _make_lab(kind, request, **kwargs):
    from lambdalab_ext import Lab
    if kind == "docker":
        request.getfixturevalue("runtime_image")
    lab = Lab(backend=kind, **kwargs)
    return lab


def _assert_no_leak(lab):
    if lab.backend.name == "docker":
        left = _client.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab.id}"})
        assert left == [], f"containers left behind by lab {lab.id}: {left}"
        nets = _client.networks.list(filters={"label": f"{LABEL}.lab={lab.id}"})
        assert nets == [], f"networks left behind by lab {lab.id}: {nets}"
    assert not os.path.exists(lab.workdir)


@pytest.fixture(params=["docker", "process"])
def lab(request):
    """A Lab on each backend; after the test, it must shut down leaving nothing behind."""
    lab = _make_lab(request.param, request)
    yield lab
    lab.shutdown()
    _assert_no_leak(lab)


@pytest.fixture
def docker_lab(request):
    lab = _make_lab("docker", request)
    yield lab
    lab.shutdown()
    _assert_no_leak(lab)


@pytest.fixture
def make_lab(request):
    """Build labs with options (clock, limits) on a given backend; all are shut down and checked."""
    labs = []

    def make(kind, **kwargs):
        lab = _make_lab(kind, request, **kwargs)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.shutdown()
        _assert_no_leak(lab)


def pytest_collection_modifyitems(config, items):
    # Tests parametrised over the docker backend get the docker marker too.
    for item in items:
        if "[docker" in item.nodeid or "docker_lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
