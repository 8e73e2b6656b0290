"""Deployment packages: dependencies installed as Lambda's build instructions install them (wheels for
Lambda's platform only, cached by what shapes them), layers (versions, order, limits, the /opt tree),
and the package's size as Lambda counts it. pip reads wheels made here, from a local folder: no index
outside this machine is ever asked."""

import base64
import hashlib
import os
import subprocess
import zipfile

import pytest

from lambdalab_ext.errors import InvalidParameterValueException, ResourceNotFoundException
from lambdalab_ext.packaging import LayerStore, check_package, install_requirements, package_size, parse_requirements
from lambdalab_ext.packaging import dependencies


def make_wheel(folder, name, version, tag, files):
    """A wheel as pip installs it: the files, and METADATA, WHEEL and RECORD in its .dist-info."""
    dist = f"{name}-{version}.dist-info"
    path = os.path.join(folder, f"{name}-{version}-{tag}.whl")
    entries = dict(files)
    entries[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{dist}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: lambdalab-test\nRoot-Is-Purelib: true\nTag: {tag}\n"
    record = []
    for entry, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{entry},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    entries[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, text in entries.items():
            archive.writestr(entry, text)
    return path


@pytest.fixture
def wheels(tmp_path, monkeypatch):
    folder = tmp_path / "wheels"
    folder.mkdir()
    make_wheel(folder, "tinyjoke", "1.0", "py3-none-any", {"tinyjoke/__init__.py": "JOKE = 'knock knock'\n"})
    make_wheel(folder, "fastmath", "2.0", "cp311-cp311-manylinux2014_x86_64",
               {"fastmath/__init__.py": "def add(a, b):\n    return a + b\n"})
    make_wheel(folder, "fastmath", "2.0", "cp311-cp311-manylinux2014_aarch64",
               {"fastmath/__init__.py": "ARM = True\n"})
    make_wheel(folder, "maconly", "1.0", "cp311-cp311-macosx_11_0_arm64", {"maconly/__init__.py": "X = 1\n"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def test_requirements_are_installed_for_lambdas_platform_once(wheels, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    folder = install_requirements("tinyjoke==1.0 fastmath", cache=str(cache), platform_tag="manylinux2014_x86_64")
    assert os.path.isfile(os.path.join(folder, "tinyjoke", "__init__.py"))
    with open(os.path.join(folder, "fastmath", "__init__.py")) as f:
        assert "def add" in f.read()            # the x86_64 wheel, not the aarch64 one
    assert os.path.basename(folder) == dependencies.requirements_key(
        ["tinyjoke==1.0", "fastmath"], platform_tag="manylinux2014_x86_64")

    # The same set again, in any order: the cached folder, and pip is not run.
    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran for a cached set")
    monkeypatch.setattr(subprocess, "run", no_pip)
    assert install_requirements(["fastmath", "tinyjoke==1.0"], cache=str(cache),
                                platform_tag="manylinux2014_x86_64") == folder


def test_another_architecture_gets_its_own_wheels(wheels, tmp_path):
    folder = install_requirements("fastmath", cache=str(tmp_path), platform_tag="manylinux2014_aarch64")
    with open(os.path.join(folder, "fastmath", "__init__.py")) as f:
        assert f.read() == "ARM = True\n"
    assert dependencies.lambda_platform("arm64") == "manylinux2014_aarch64"
    assert dependencies.lambda_platform("x86_64") == "manylinux2014_x86_64"


def test_a_package_without_a_wheel_for_lambda_fails_clearly_and_leaves_nothing(wheels, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(InvalidParameterValueException) as caught:
        install_requirements("maconly", cache=str(cache), platform_tag="manylinux2014_x86_64")
    message = caught.value.message
    assert "Could not install maconly for Lambda's platform (manylinux2014_x86_64" in message
    assert "pip said:" in message and "maconly" in message.split("pip said:")[1]
    left = [p for p in os.listdir(cache / "dependencies") if not p.endswith(".lock")]
    assert left == []


def test_requirements_come_as_a_string_a_list_or_a_file(tmp_path):
    assert parse_requirements("requests==2.32.3 pillow") == ["requests==2.32.3", "pillow"]
    assert parse_requirements(["requests >= 2.0"]) == ["requests >= 2.0"]
    path = tmp_path / "requirements.txt"
    path.write_text("# pinned\nrequests >= 2.0   # http\n\npillow\n")
    assert parse_requirements(str(path)) == ["requests >= 2.0", "pillow"]
    with pytest.raises(InvalidParameterValueException, match="not supported"):
        parse_requirements(["--index-url", "https://example.invalid/simple"])
    with pytest.raises(InvalidParameterValueException, match="no requirements"):
        install_requirements("  ")


def test_the_cache_key_sees_everything_that_shapes_the_install(monkeypatch):
    key = dependencies.requirements_key(["a"], platform_tag="manylinux2014_x86_64")
    assert key != dependencies.requirements_key(["a"], platform_tag="manylinux2014_aarch64")
    assert key != dependencies.requirements_key(["a"], python_version="3.12", platform_tag="manylinux2014_x86_64")
    assert key != dependencies.requirements_key(["a", "b"], platform_tag="manylinux2014_x86_64")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple")
    assert key != dependencies.requirements_key(["a"], platform_tag="manylinux2014_x86_64")


# -- layers ---------------------------------------------------------------------------------------
def test_layer_versions_have_lambdas_arns_and_are_found_by_arn_or_name(tmp_path):
    store = LayerStore(str(tmp_path), region="us-east-1", account_id="123456789012")
    first = store.publish("shared", {"python/shared.py": "VALUE = 1\n"}, description="one")
    second = store.publish("shared", {"python/shared.py": "VALUE = 2\n"})
    assert (first.version, second.version) == (1, 2)
    assert second.arn == "arn:aws:lambda:us-east-1:123456789012:layer:shared:2"
    assert second.layer_arn == "arn:aws:lambda:us-east-1:123456789012:layer:shared"
    assert store.get(first.arn) is first and store.get("shared:2") is second
    api = first.as_api()
    assert api["Version"] == 1 and api["Description"] == "one" and api["Content"]["CodeSize"] == first.code_size
    with pytest.raises(ResourceNotFoundException, match="layer:shared:3 does not exist"):
        store.get("shared:3")
    with pytest.raises(InvalidParameterValueException, match="regular expression"):
        store.publish("bad name", {"a": "b"})
    with pytest.raises(InvalidParameterValueException, match="leaves the layer"):
        store.publish("escape", {"../outside.py": "x"})


def test_the_same_content_has_the_same_code_sha256(tmp_path):
    store = LayerStore(str(tmp_path), region="us-east-1", account_id="123456789012")
    a = store.publish("a", {"python/m.py": "X = 1\n", "bin/tool": "#!/bin/sh\n"})
    b = store.publish("b", {"bin/tool": "#!/bin/sh\n", "python/m.py": "X = 1\n"})
    c = store.publish("c", {"python/m.py": "X = 2\n"})
    assert a.code_sha256 == b.code_sha256 != c.code_sha256


def test_a_function_takes_five_layers_at_most_and_one_version_of_each(tmp_path):
    store = LayerStore(str(tmp_path), region="us-east-1", account_id="123456789012")
    names = [store.publish(f"l{i}", {f"python/m{i}.py": ""}).arn for i in range(6)]
    assert len(store.resolve(names[:5])) == 5
    with pytest.raises(InvalidParameterValueException, match="Cannot reference more than 5 layers"):
        store.resolve(names)
    store.publish("l0", {"python/m0.py": "# two"})
    with pytest.raises(InvalidParameterValueException, match="same layer"):
        store.resolve(["l0:1", "l0:2"])


def test_opt_is_the_layers_extracted_in_order(tmp_path):
    store = LayerStore(str(tmp_path), region="us-east-1", account_id="123456789012")
    base = store.publish("base", {"python/config.py": "NAME = 'base'\n", "lib/libx.so": "base"})
    override = store.publish("override", {"python/config.py": "NAME = 'override'\n"})
    opt = store.opt_folder([base, override])
    with open(os.path.join(opt, "python", "config.py")) as f:
        assert f.read() == "NAME = 'override'\n"          # the later layer wins
    with open(os.path.join(opt, "lib", "libx.so")) as f:
        assert f.read() == "base"
    assert store.opt_folder([base, override]) == opt       # built once
    with open(os.path.join(store.opt_folder([override, base]), "python", "config.py")) as f:
        assert f.read() == "NAME = 'base'\n"
    assert store.opt_folder([]) is None


# -- sizes ----------------------------------------------------------------------------------------
def test_package_size_counts_unzipped_bytes_and_measures_the_zip(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text("x = 1\n" * 10_000)
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "random.bin").write_bytes(os.urandom(50_000))
    zipped, unzipped = package_size([str(tmp_path / "code"), str(tmp_path / "layer")])
    assert unzipped == 60_000 + 50_000
    with zipfile.ZipFile(tmp_path / "real.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "code" / "handler.py", "handler.py")
        archive.write(tmp_path / "layer" / "random.bin", "random.bin")
    assert abs(zipped - os.path.getsize(tmp_path / "real.zip")) < 1_000   # what a .zip really takes
    check_package(unzipped)
    with pytest.raises(InvalidParameterValueException, match="Unzipped size must be smaller than 262144000 bytes"):
        check_package(262_144_000)
