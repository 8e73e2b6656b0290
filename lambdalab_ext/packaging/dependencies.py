"""A function's dependencies, installed as Lambda's own build instructions install them.

"Working with .zip file archives for Python Lambda functions" (Lambda Developer Guide) builds a
deployment package with ``pip install --target`` for the function's runtime and architecture, from
wheels only: ``--platform manylinux2014_x86_64 --implementation cp --python-version 3.11
--only-binary=:all:``. The lab does exactly that, on the host (the execution environments have no
network), for the runtime image's Python (3.11) and the machine's architecture, so that native code
matches the environment whatever the host is: a wheel built for another platform is never picked.

Each set of requirements is installed once, into a folder named by a hash of everything that shapes
the result (the requirements, the Python version, the platform, pip's index settings), under the lab's
cache (``LAMBDALAB_CACHE``, else ``~/.cache/lambdalab``); a second function, a restarted kernel or
another lab with the same requirements reuses it, as Cython's magic reuses a build. Concurrent
installs of the same set wait for one another (a file lock), and a failed install leaves nothing
behind.

>>> folder = install_requirements("requests==2.32.3")        # doctest: +SKIP
>>> sorted(os.listdir(folder))[:3]                            # doctest: +SKIP
['certifi', 'certifi-2024.8.30.dist-info', 'charset_normalizer']
"""

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from ..errors import InvalidParameterValueException

PYTHON_VERSION = "3.11"                 # the runtime image's Python (python3.11)
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64",
             "arm64": "manylinux2014_aarch64"}
PIP_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
INSTALL_TIMEOUT_S = 900


def cache_root():
    """Where built artefacts are kept: ``LAMBDALAB_CACHE``, else ``~/.cache/lambdalab``."""
    return os.environ.get("LAMBDALAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lambdalab")


def lambda_platform(machine=None):
    """The manylinux tag of the environments' architecture (x86_64 or arm64, as Lambda names them)."""
    machine = (machine or platform.machine()).lower()
    try:
        return PLATFORMS[machine]
    except KeyError:
        raise InvalidParameterValueException(f"Lambda has no {machine} architecture: x86_64 or arm64.") from None


def parse_requirements(requirements):
    """The requirement lines of ``requirements``: a string of requirements separated by spaces or
    new lines (``"requests==2.32.3 pillow"``), a list of them, or the path of a requirements.txt.
    Comments and blank lines are dropped; options (``-r``, ``--index-url``...) are refused, since the
    lab's cache key could not see what they bring in."""
    if isinstance(requirements, (list, tuple)):
        lines = [str(r) for r in requirements]
    else:
        text = str(requirements)
        if os.path.isfile(text):
            with open(text, encoding="utf-8") as f:
                lines = f.read().splitlines()
        else:
            lines = text.split()
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise InvalidParameterValueException(
                f"requirement option {line!r} is not supported: list the packages themselves (pip's index "
                "settings come from its environment: PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX).")
        out.append(line)
    return out


def requirements_key(lines, *, python_version=PYTHON_VERSION, platform_tag=None):
    """The hash that names the installed folder: everything that shapes what pip installs."""
    shape = {"requirements": sorted(lines), "python": python_version,
             "platform": platform_tag or lambda_platform(), "implementation": "cp",
             "pip": {name: os.environ.get(name) for name in PIP_SETTINGS}}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:24]


def install_requirements(requirements, *, python_version=PYTHON_VERSION, platform_tag=None, cache=None,
                         progress=None):
    """Install ``requirements`` for Lambda's platform (once: cached); returns the folder that holds
    the installed packages, to be the top of the deployment package (``/var/task``).

    ``InvalidParameterValueException`` when pip cannot: no wheel for the platform, a version that
    does not exist, no index reachable; pip's own last lines say which."""
    lines = parse_requirements(requirements)
    if not lines:
        raise InvalidParameterValueException("no requirements given")
    platform_tag = platform_tag or lambda_platform()
    key = requirements_key(lines, python_version=python_version, platform_tag=platform_tag)
    root = os.path.join(cache or cache_root(), "dependencies")
    os.makedirs(root, exist_ok=True)
    folder = os.path.join(root, key)
    if os.path.isdir(folder):
        return folder
    with open(os.path.join(root, f"{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)       # another kernel may be installing the same set
        if os.path.isdir(folder):
            return folder
        staging = tempfile.mkdtemp(prefix=f"{key}.", dir=root)
        try:
            command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       "--no-input", "--target", staging, "--platform", platform_tag, "--implementation", "cp",
                       "--python-version", python_version, "--only-binary=:all:", "--no-compile", *lines]
            if progress:
                progress(f"installing {' '.join(lines)} for {platform_tag}, Python {python_version}")
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise InvalidParameterValueException(
                    f"installing {' '.join(lines)} took more than {INSTALL_TIMEOUT_S} s") from None
            if done.returncode != 0:
                said = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
                raise InvalidParameterValueException(
                    f"Could not install {' '.join(lines)} for Lambda's platform ({platform_tag}, Python "
                    f"{python_version}, wheels only, as Lambda's build instructions install them). pip said:\n"
                    f"{said}")
            with open(os.path.join(staging, ".lambdalab-requirements.json"), "w") as f:
                json.dump({"requirements": lines, "platform": platform_tag, "python": python_version}, f)
            os.rename(staging, folder)
            staging = None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
    return folder
