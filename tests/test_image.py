"""Runtime image builder: mirror parsing, recipe hash, Dockerfile text, build lock (no
engine needed), and real builds on the local engine (marked docker).

No test reaches a registry: the online-failure test names a registry on 127.0.0.1:9,
where nothing listens, and the online-recipe test builds FROM a local stand-in base.
Set LAMBDALAB_TEST_REBUILD=1 to delete the cached offline image and build it again.
"""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from lambdalab_ext.runtime import image as img

MIRROR = "http://mirror.example.invalid/debian"


# ------------------------------------------------------------------ mirror parsing

def _apt(tmp_path, sources_list=None, parts=None):
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if sources_list is not None:
        (etc / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (etc / "sources.list.d" / name).write_text(text)
    return etc


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch):
    for var in ("LAMBDALAB_DEBIAN_MIRROR", "LAMBDALAB_IMAGE_SOURCE", "LAMBDALAB_BASE_IMAGE"):
        monkeypatch.delenv(var, raising=False)


def test_mirror_from_deb822_skips_security_and_disabled(tmp_path):
    etc = _apt(tmp_path, parts={"debian.sources": (
        "# security first, then a disabled entry, then the real one\n"
        "Types: deb\nURIs: http://security.example.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://disabled.example.invalid/debian\nSuites: bookworm\n"
        "Enabled: no\n\n"
        "Types: deb-src deb\n"
        f"# a comment inside the paragraph\nURIs: {MIRROR}\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")})
    assert img.debian_mirror(etc) == MIRROR


def test_mirror_from_one_line_format(tmp_path):
    etc = _apt(tmp_path, sources_list=(
        "# comment\n"
        "deb-src http://src.example.invalid/debian bookworm main\n"
        "deb http://security.example.invalid/debian-security bookworm-security main\n"
        "deb http://updates.example.invalid/debian bookworm-updates main\n"
        f"deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] {MIRROR} bookworm main  # x\n"
        "deb http://later.example.invalid/debian bookworm main\n"))
    assert img.debian_mirror(etc) == MIRROR


def test_mirror_order_and_foreign_repositories(tmp_path):
    etc = _apt(tmp_path, sources_list="", parts={
        # third-party repositories: not a Debian suite, so they cannot bootstrap Debian
        "a-cloud.list": "deb https://apt.example.invalid/apt cloud-sdk-bookworm main\n",
        "b-node.sources": "Types: deb\nURIs: https://node.example.invalid/node_20.x\n"
                          "Suites: nodistro\nComponents: main\n",
        "c-off.list.disabled-by-farm": "deb http://ignored.example.invalid/debian bookworm main\n",
        "d-debian.sources": f"Types: deb\nURIs: {MIRROR}\nSuites: bookworm\n"})
    assert img.debian_mirror(etc) == MIRROR
    # sources.list is read before sources.list.d
    (etc / "sources.list").write_text("deb http://first.example.invalid/debian stable main\n")
    assert img.debian_mirror(etc) == "http://first.example.invalid/debian"


def test_mirror_none_and_env_override(tmp_path, monkeypatch):
    etc = _apt(tmp_path, sources_list="deb http://archive.example.invalid/ubuntu noble main\n")
    assert img.debian_mirror(etc) is None            # debootstrap then uses its default
    assert img.debian_mirror(tmp_path / "missing") is None
    monkeypatch.setenv("LAMBDALAB_DEBIAN_MIRROR", MIRROR)
    assert img.debian_mirror(etc) == MIRROR


# ------------------------------------------------------------------ recipe hash, Dockerfile

def test_recipe_hash_stable_and_distinct():
    off, on = img.image_recipe_hash("offline"), img.image_recipe_hash("online")
    assert len(off) == 64 and int(off, 16) >= 0
    assert off == img.image_recipe_hash("offline") and off != on
    # stable across processes (no dependence on hash seeds or dict order)
    code = "from lambdalab_ext.runtime import image as i; print(i.image_recipe_hash('offline'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert out.stdout.strip() == off
    assert img.image_tag("offline") == f"lambdalab/python-runtime:offline-{off[:12]}"
    with pytest.raises(ValueError):
        img.image_recipe_hash("auto")


def test_recipe_hash_sensitivity(monkeypatch):
    off, on = img.image_recipe_hash("offline"), img.image_recipe_hash("online")
    monkeypatch.setenv("LAMBDALAB_BASE_IMAGE", "python:3.13-slim")
    assert img.image_recipe_hash("online") != on
    assert img.image_recipe_hash("offline") == off   # the base image is online-only
    monkeypatch.delenv("LAMBDALAB_BASE_IMAGE")
    monkeypatch.setattr(img, "REQUIREMENTS", ("awslambdaric==4.2.1",) + img.REQUIREMENTS[1:])
    assert img.image_recipe_hash("offline") != off and img.image_recipe_hash("online") != on
    monkeypatch.undo()
    monkeypatch.setattr(img, "RECIPE_VERSION", img.RECIPE_VERSION + 1)
    assert img.image_recipe_hash("offline") != off
    monkeypatch.undo()
    monkeypatch.setattr(img, "STRIP_GLOBS", img.STRIP_GLOBS + ("usr/share/zoneinfo/*",))
    assert img.image_recipe_hash("offline") != off
    monkeypatch.undo()
    monkeypatch.setattr(img, "DEBIAN_SUITE", "trixie")
    assert img.image_recipe_hash("offline") != off


def test_dockerfile_text():
    text = img.dockerfile_text()
    lines = text.splitlines()
    assert lines[0] == "FROM python:3.12-slim"
    assert img.dockerfile_text("lambdalab-nonexistent/base:0").startswith(
        "FROM lambdalab-nonexistent/base:0\n")
    assert "groupadd -g 990 sbx_user1051" in text
    assert "useradd -l -M -u 993 -g 990 " in text
    assert "mkdir -p /var/task /var/runtime /var/lang/lib/site-packages /var/lang/bin /tmp" in text
    assert "chmod 1777 /tmp" in text
    assert f"{img.RUNTIME_PYTHON}\n" in text and "ln -sf" in text
    assert f"--target {img.PACKAGES_PATH} awslambdaric==4.2.2 " in text
    for req in img.REQUIREMENTS:
        assert req in text
    assert "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8" in lines
    assert lines[-1] == "WORKDIR /var/task"
    assert "LABEL" not in text   # labels go through the build API (one is this text's hash)
    # every continued line is continued properly
    for a in lines:
        if a.startswith("    "):
            continue
        assert a.split()[0] in ("FROM", "RUN", "ENV", "WORKDIR")


# ------------------------------------------------------------------ source choice, lock (fake engine)

class _FakeImages:
    def __init__(self, present=()):
        self.present = set(present)

    def get(self, name):
        import docker.errors
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return object()


class _FakeClient:
    def __init__(self, present=()):
        self.images = _FakeImages(present)


def test_resolve_source(monkeypatch):
    monkeypatch.setattr(img, "_offline_possible", lambda: True)
    assert img.resolve_source(_FakeClient(), "auto") == "offline"
    assert img.resolve_source(_FakeClient({"python:3.12-slim"}), "auto") == "online"
    monkeypatch.setattr(img, "_offline_possible", lambda: False)
    assert img.resolve_source(_FakeClient(), "auto") == "online"
    monkeypatch.setenv("LAMBDALAB_IMAGE_SOURCE", "offline")
    assert img.resolve_source(_FakeClient({"python:3.12-slim"}), "auto") == "offline"
    assert img.resolve_source(_FakeClient(), "online") == "online"   # explicit wins
    with pytest.raises(ValueError):
        img.resolve_source(_FakeClient(), "docker-hub")


def test_concurrent_callers_build_once(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    client = _FakeClient()
    builds, lines = [], []

    def fake_build(client_, tag, labels, progress):
        builds.append((tag, labels))
        time.sleep(0.5)            # long enough for the other caller to hit the lock
        client_.images.present.add(tag)

    monkeypatch.setattr(img, "_build_offline", fake_build)
    tags = []
    threads = [threading.Thread(target=lambda: tags.append(
        img.ensure_runtime_image(client, source="offline", progress=lines.append)))
        for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and tags == [img.image_tag("offline")] * 2
    tag, labels = builds[0]
    assert labels == {"lambdalab": "1", "lambdalab.kind": "runtime-image",
                      "lambdalab.recipe": img.image_recipe_hash("offline"),
                      "lambdalab.source": "offline"}
    assert any("waiting" in line for line in lines)
    # cache hit: no build, no progress at all
    lines.clear()
    assert img.ensure_runtime_image(client, source="offline", progress=lines.append) == tag
    assert lines == [] and len(builds) == 1


def test_offline_refuses_clearly_without_debootstrap(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(img, "_debootstrap_path", lambda: None)
    monkeypatch.setattr(img.os, "geteuid", lambda: 0)
    with pytest.raises(RuntimeError, match="apt-get install -y debootstrap"):
        img.ensure_runtime_image(_FakeClient(), source="offline", progress=lambda s: None)
    monkeypatch.setattr(img.os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeError, match="needs root"):
        img.ensure_runtime_image(_FakeClient(), source="offline", progress=lambda s: None)


# ------------------------------------------------------------------ real engine

def _need(condition, why):
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(why)     # never skipped in CI
        pytest.skip(why)


@pytest.fixture(scope="session")
def client():
    docker = pytest.importorskip("docker")
    try:
        c = docker.from_env()
        c.ping()
    except Exception as e:  # noqa: BLE001 - any failure means no engine here
        _need(False, f"no Docker engine: {e}")
    return c


@pytest.fixture(scope="session")
def offline_image(client):
    _need(img._offline_possible(), "offline image build needs root and debootstrap")
    if os.environ.get("LAMBDALAB_TEST_REBUILD") and img._image_exists(client, img.image_tag("offline")):
        client.images.remove(img.image_tag("offline"), force=True)
    lines = []
    tag = img.ensure_runtime_image(client, source="offline", progress=lines.append)
    return tag, lines


def _run(client, image, cmd, **kw):
    # remove=True: the container is deleted when it exits; labelled in case it is not.
    return client.containers.run(image, cmd, remove=True, network_disabled=True,
                                 labels={"lambdalab": "1", "lambdalab.kind": "test"},
                                 **kw).decode()


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_offline_image_tag_and_labels(client, offline_image):
    tag, lines = offline_image
    assert tag == img.image_tag("offline")
    assert tag.startswith("lambdalab/python-runtime:offline-")
    attrs = client.images.get(tag).attrs
    labels = attrs["Config"]["Labels"]
    assert labels["lambdalab"] == "1" and labels["lambdalab.kind"] == "runtime-image"
    assert labels["lambdalab.recipe"] == img.image_recipe_hash("offline")
    assert "PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin" in attrs["Config"]["Env"]
    assert "LANG=C.UTF-8" in attrs["Config"]["Env"]
    assert attrs["Config"]["WorkingDir"] == "/var/task"
    if lines:   # built in this session: every stage reported, with elapsed seconds
        assert any("4/4" in line for line in lines) and all(" s" in line for line in lines)


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_offline_image_runs_as_sandbox_user(client, offline_image):
    tag, _ = offline_image
    out = _run(client, tag, [img.RUNTIME_PYTHON, "-c",
               "import sys,json,http.client,getpass,os; "
               "print(json.dumps([sys.version_info[:2], getpass.getuser(), os.getcwd()]))"],
               user=f"{img.LAMBDA_UID}:{img.LAMBDA_GID}")
    version, user, cwd = json.loads(out)
    assert tuple(version) >= (3, 11)
    assert user == "sbx_user1051" and cwd == "/var/task"
    out = _run(client, tag, ["python3", "-c",
               "import awslambdaric, awslambdaric.bootstrap, simplejson, boto3; print(awslambdaric.__file__)"],
               user=f"{img.LAMBDA_UID}:{img.LAMBDA_GID}", environment={"PYTHONPATH": img.PACKAGES_PATH})
    assert out.strip().startswith(img.PACKAGES_PATH + "/awslambdaric/")
    out = _run(client, tag, ["sh", "-c", "grep sbx_user1051 /etc/passwd; stat -c %a /tmp; "
                             "ls -d /var/task /var/runtime; ls /usr/share/doc | wc -l"])
    passwd, tmp_mode, task, runtime, docs = out.split()
    assert passwd.startswith("sbx_user1051:x:993:990:")
    assert tmp_mode == "1777" and {task, runtime} == {"/var/task", "/var/runtime"}
    assert docs == "0"   # stripped


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_second_call_uses_cache(client, offline_image):
    tag, _ = offline_image
    image_id = client.images.get(tag).id
    lines = []
    assert img.ensure_runtime_image(client, source="offline", progress=lines.append) == tag
    assert lines == []                       # no build stage ran
    assert client.images.get(tag).id == image_id
    leftovers = client.containers.list(all=True, filters={"label": "lambdalab.kind=test"})
    assert leftovers == []
    assert list((img._cache_dir() / "build").iterdir()) == []   # no temp dirs left


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_online_build_fails_clearly_without_registry(client, monkeypatch):
    # pull=False does not stop the engine pulling an absent base (verified on 20.10), so
    # the base names a registry on loopback where nothing listens: refused at once.
    monkeypatch.setenv("LAMBDALAB_BASE_IMAGE", "127.0.0.1:9/lambdalab-nonexistent/base:0")
    before = {c.id for c in client.containers.list(all=True)}
    with pytest.raises(RuntimeError) as e:
        img.ensure_runtime_image(client, source="online", progress=lambda s: None)
    msg = str(e.value)
    assert "127.0.0.1:9/lambdalab-nonexistent/base:0" in msg and "source='offline'" in msg
    assert {c.id for c in client.containers.list(all=True)} <= before   # no stray container


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_online_recipe_builds_from_local_stand_in(client, offline_image, monkeypatch, tmp_path):
    """The generated Dockerfile really builds, with no registry: the base is a stand-in
    made from the offline image (its sandbox user removed), whose `pip` installs from
    wheels fetched here, so the build's RUN steps need no network."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "-d", str(wheels), *img.PIP_PLATFORM_ARGS, "--no-deps", "pip",
                    *img.REQUIREMENTS], check=True)
    pip_wheel = next(p.name for p in wheels.iterdir() if p.name.startswith("pip-"))
    (tmp_path / "Dockerfile").write_text(
        f"FROM {offline_image[0]}\n"
        # python:3.12-slim's PATH has the sbin directories; the offline image's has not
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "RUN userdel sbx_user1051 && (groupdel sbx_user1051 || true) && rm -rf /var/lang\n"
        "COPY wheels /wheels\n"
        f"RUN printf '#!/bin/sh\\nexec python3 /wheels/{pip_wheel}/pip \"$@\" --no-index --find-links /wheels\\n'"
        " > /usr/local/bin/pip && chmod 755 /usr/local/bin/pip\n")
    base = "lambdalab-test/stand-in-base:0"
    client.images.build(path=str(tmp_path), tag=base, rm=True, forcerm=True, network_mode="none",
                        labels={"lambdalab": "1", "lambdalab.kind": "test"})
    monkeypatch.setenv("LAMBDALAB_BASE_IMAGE", base)
    tag = None
    try:
        lines = []
        tag = img.ensure_runtime_image(client, source="online", progress=lines.append)
        assert tag.startswith("lambdalab/python-runtime:online-")
        labels = client.images.get(tag).attrs["Config"]["Labels"]
        assert labels["lambdalab.recipe"] == img.image_recipe_hash("online")
        assert labels["lambdalab.kind"] == "runtime-image"
        out = _run(client, tag, ["sh", "-c", "grep sbx_user1051 /etc/passwd && "
                   f"PYTHONPATH={img.PACKAGES_PATH} {img.RUNTIME_PYTHON} -c 'import awslambdaric; print(1)'"],
                   user=f"{img.LAMBDA_UID}:{img.LAMBDA_GID}")
        assert out.splitlines() == ["sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin", "1"]
        assert any("Step" in line for line in lines)
    finally:
        # not the cache: an image of a test-only base
        if tag:
            client.images.remove(tag, force=True)
        client.images.remove(base, force=True)


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_an_existing_image_is_used_before_anything_is_built(client, offline_image, monkeypatch):
    """No debootstrap here (as on a machine where it was never installed) and no base image for the
    online recipe: the offline image already on the engine is used, nothing is built."""
    tag, _ = offline_image
    monkeypatch.delenv("LAMBDALAB_IMAGE_SOURCE", raising=False)
    monkeypatch.setattr(img, "_offline_possible", lambda: False)
    monkeypatch.setenv("LAMBDALAB_BASE_IMAGE", "127.0.0.1:9/lambdalab-nonexistent/base:0")
    lines = []
    assert img.ensure_runtime_image(client, progress=lines.append) == tag
    assert lines == []
