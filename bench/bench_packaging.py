"""Dependencies and cold starts, as same-run ratios (issue #11's performance items):

1. Installing a dependency set the first time (``install_requirements``: a cache miss) against a bare
   ``pip install --target`` of the same requirements with the same platform flags (goal: at most 1.3x),
   and the second time (a cache hit: goal under 1 s).
2. A cold start of a function whose dependencies come from the lab's cache (installed into its
   package, mounted at /var/task) against the same function with the same files baked into a container
   image (goal: at most 1.1x). Docker backend.

No index outside this machine is used: the dependency set is botocore and what it needs (pure Python,
about 25 MB unzipped, a slow import: a large set), rebuilt as wheels from the copies installed in
this interpreter, which pip reads from a local folder. (numpy would not do: the wheels installed here
are manylinux_2_28, and a python3.11 function gets manylinux2014 wheels, as on Lambda.)

    .venv/bin/python bench/bench_packaging.py [--cold 8]
"""

import argparse
import base64
import hashlib
import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

from lambdalab_ext import Lab
from lambdalab_ext.packaging import dependencies

HANDLER = ("import botocore.session\nsession = botocore.session.get_session()\n"
           "def handler(event, context):\n    return botocore.__file__.startswith('/var/task/')\n")
SET = ("botocore", "jmespath", "python-dateutil", "six", "urllib3")


def wheel_of_installed(name, folder):
    """A wheel of the distribution ``name`` as installed here (its files, its WHEEL tags)."""
    dist = importlib.metadata.distribution(name)
    tags = [line.split(": ", 1)[1] for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag: ")]
    parts = [t.split("-") for t in tags] or [["py3", "none", "any"]]
    tag = "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))   # py2.py3-none-any
    path = os.path.join(folder, f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}-{tag}.whl")
    root = str(dist.locate_file(""))
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files:
            if str(file).endswith("RECORD") or "__pycache__" in str(file) or str(file).startswith(".."):
                continue
            full = os.path.join(root, str(file))
            if not os.path.isfile(full):
                continue
            with open(full, "rb") as f:
                data = f.read()
            archive.writestr(str(file), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{file},sha256={digest},{len(data)}")
        dist_info = next(str(f).split("/")[0] for f in dist.files if ".dist-info/" in str(f))
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=8)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="lambdalab-bench-packaging-")
    try:
        wheels = os.path.join(work, "wheels")
        os.makedirs(wheels)
        for name in SET:
            wheel_of_installed(name, wheels)
        os.environ.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=wheels)
        platform_tag = dependencies.lambda_platform()
        def bare(n):
            return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                    os.path.join(work, f"bare{n}"), "--platform", platform_tag, "--implementation", "cp",
                    "--python-version", "3.11", "--only-binary=:all:", "--no-compile", "botocore"]
        bare_times, first_times = [], []
        for n in range(3):                        # alternating, each into a fresh folder (a fresh cache)
            bare_times.append(timed(lambda: subprocess.run(bare(n), check=True))[0])
            t, folder = timed(lambda: dependencies.install_requirements("botocore", cache=os.path.join(work, f"c{n}")))
            first_times.append(t)
        cache = os.path.join(work, "c0")
        second_s, _ = timed(lambda: dependencies.install_requirements("botocore", cache=cache))
        folder = dependencies.install_requirements("botocore", cache=cache)
        bare_s, first_s = statistics.median(bare_times), statistics.median(first_times)
        print(f"[1] botocore and its dependencies for {platform_tag}: bare pip install --target {bare_s:.2f} s; the lab's first install "
              f"{first_s:.2f} s, ratio {first_s / bare_s:.2f}x (goal <= 1.3x); cache hit {second_s * 1000:.1f} ms "
              f"(goal < 1 s)")

        os.environ["LAMBDALAB_CACHE"] = cache
        lab = Lab(backend="docker")
        try:
            packaged = lab.deploy("packaged", HANDLER, requirements="botocore", memory_mb=1769)
            files = {"lambda_function.py": HANDLER}
            for base, dirs, names in os.walk(folder):
                for name in names:
                    full = os.path.join(base, name)
                    files[os.path.relpath(full, folder)] = open(full, "rb").read()
            dockerfile = ("ARG LAMBDA_RUNTIME_IMAGE\nFROM ${LAMBDA_RUNTIME_IMAGE}\nCOPY . /var/task/\n"
                          'CMD ["lambda_function.handler"]\n')
            baked = lab.deploy_image("baked", dockerfile, files, memory_mb=1769)
            cold = {"packaged": [], "baked": []}
            for _ in range(args.cold):          # alternating, so drift hits both alike
                for name, fn in (("packaged", packaged), ("baked", baked)):
                    fn.update(env={"ROUND": str(time.perf_counter())})    # a new configuration: a cold start
                    result = fn.invoke({})
                    assert result.ok and result.cold and result.payload is True, result.logs
                    cold[name].append(result.latency_ms)
            p, b = statistics.median(cold["packaged"]), statistics.median(cold["baked"])
            print(f"[2] cold start with botocore from the lab's cache (mounted package) median {p:.0f} ms; baked into "
                  f"an image {b:.0f} ms; ratio {p / b:.2f}x (goal <= 1.1x)")
        finally:
            lab.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
