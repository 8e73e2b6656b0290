"""Runtime image: the container image every execution environment starts from.

Two recipes produce the same layout (Lambda's sandbox user, /var/task, /var/runtime,
/var/lang/bin/python3, and under PACKAGES_PATH what AWS's Python runtimes bring: the AWS SDK
(boto3, botocore) and AWS's runtime interface client awslambdaric), plus socat, which carries
the Runtime API from a Unix socket to 127.0.0.1:9001 where the lab cannot enter the
container's network namespace:

- "online": a Dockerfile FROM a public Python base image, for a machine whose engine
  reaches a registry (a learner's laptop).
- "offline": debootstrap a minimal Debian into a directory, shape it, tar it and
  `docker import` it. Needs root and debootstrap, but no registry at all.

Images are tagged by a hash of the recipe, so a changed recipe builds a new image and an
unchanged one is found at once. A file lock keeps two kernels from building it twice.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

RUNTIME_PYTHON = "/var/lang/bin/python3"  # interpreter path inside the image (a symlink)
# awslambdaric, boto3 and their dependencies, installed with pip --target. Not under /opt:
# that is where Lambda mounts a function's layers.
PACKAGES_PATH = "/var/lang/lib/site-packages"
LAMBDA_UID, LAMBDA_GID = 993, 990          # Lambda's sandbox user sbx_user1051
LAMBDA_USER = "sbx_user1051"

IMAGE_REPO = "lambdalab/python-runtime"
# Bump when a build step changes in a way the data below does not capture.
RECIPE_VERSION = 2

# Pinned in full (transitive deps too) so that the recipe hash names one image content.
RIC_REQUIREMENTS = ("awslambdaric==4.2.2", "simplejson==4.3.0", "snapshot-restore-py==1.0.0")
# AWS's Python runtimes include the SDK, so `import boto3` works in a function with no package.
SDK_REQUIREMENTS = ("boto3==1.44.8", "botocore==1.44.8", "s3transfer==0.19.3", "jmespath==1.1.0",
                    "python-dateutil==2.9.0.post0", "six==1.17.0", "urllib3==2.8.0")
REQUIREMENTS = RIC_REQUIREMENTS + SDK_REQUIREMENTS
# Debian packages beyond python3: socat forwards the Runtime API in the socket mode; nodejs runs
# Node.js functions (with lambdalab's own runtime client: no npm registry is needed).
DEBIAN_PACKAGES = ("python3", "socat", "nodejs")
ONLINE_BASE_IMAGE = "python:3.12-slim"     # override: env LAMBDALAB_BASE_IMAGE
DEBIAN_SUITE = "bookworm"                  # its python3 is 3.11, matching PIP_PLATFORM_ARGS
PIP_PLATFORM_ARGS = ("--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                     "--python-version", "3.11", "--implementation", "cp")

# Shell steps shared by both recipes (RUN in the Dockerfile, chroot in the offline build),
# so the two images cannot drift apart.
SETUP_STEPS = (
    f"groupadd -g {LAMBDA_GID} {LAMBDA_USER}",
    # -l: no lastlog entry (a sparse file that is huge for high uids); -M: Lambda has no home dir.
    f"useradd -l -M -u {LAMBDA_UID} -g {LAMBDA_GID} -d /home/{LAMBDA_USER} -s /sbin/nologin {LAMBDA_USER}",
    f"mkdir -p /var/task /var/runtime {PACKAGES_PATH} {os.path.dirname(RUNTIME_PYTHON)} /tmp",
    "chmod 1777 /tmp",
    # Point at the real versioned binary so sys.executable is stable whichever base we use.
    f'ln -sf "$(readlink -f "$(command -v python3)")" {RUNTIME_PYTHON}',
)
IMAGE_ENV = {"PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
WORKDIR = "/var/task"

# What the offline image does not need: package indexes and caches, docs, translations.
# The C.UTF-8 locale lives in usr/lib/locale and is kept.
STRIP_GLOBS = ("var/cache/apt/*", "var/lib/apt/lists/*", "var/cache/debconf/*-old",
               "var/log/*", "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*",
               "usr/share/lintian/*", "usr/share/locale/*/", "dev/*")

_DEBIAN_SUITES = {"buster", "bullseye", "bookworm", "trixie", "forky", "sid",
                  "oldoldstable", "oldstable", "stable", "testing", "unstable"}

Progress = Callable[[str], None]


def _stderr_progress(msg: str) -> None:
    print(f"lambdalab: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- recipes

def online_base_image() -> str:
    """The public base image of the online recipe (env LAMBDALAB_BASE_IMAGE overrides)."""
    return os.environ.get("LAMBDALAB_BASE_IMAGE") or ONLINE_BASE_IMAGE


def dockerfile_text(base_image: str | None = None) -> str:
    """The Dockerfile of the online recipe. Labels are passed to the build API instead,
    because one of them is the hash of this very text."""
    run_setup = " && \\\n    ".join(SETUP_STEPS)
    env = " ".join(f"{k}={v}" for k, v in IMAGE_ENV.items())
    # A base that already has the Debian packages (a local stand-in) needs no apt at all.
    packages = " ".join(p for p in DEBIAN_PACKAGES if p != "python3")
    return (
        f"FROM {base_image or online_base_image()}\n"
        f"RUN command -v {packages} >/dev/null || (apt-get update && \\\n"
        f"    apt-get install -y --no-install-recommends {packages} && rm -rf /var/lib/apt/lists/*)\n"
        f"RUN {run_setup}\n"
        f"RUN PIP_ROOT_USER_ACTION=ignore pip install --no-cache-dir --disable-pip-version-check \\\n"
        f"    --target {PACKAGES_PATH} {' '.join(REQUIREMENTS)}\n"
        f"ENV {env}\n"
        f"WORKDIR {WORKDIR}\n"
    )


def _import_changes() -> list[str]:
    """Dockerfile instructions applied by `docker import` (without labels)."""
    return [f"ENV {k}={v}" for k, v in IMAGE_ENV.items()] + [
        f"WORKDIR {WORKDIR}", 'CMD ["python3"]']


def image_recipe_hash(source: str) -> str:
    """Content hash (sha256 hex) of everything that shapes the image built by `source`
    ("offline" or "online"): recipe text, pinned versions, and the source kind itself.
    The Debian mirror is not part of it: it serves the same suite either way."""
    if source == "online":
        recipe = {"dockerfile": dockerfile_text()}
    elif source == "offline":
        recipe = {"suite": DEBIAN_SUITE, "variant": "minbase", "include": list(DEBIAN_PACKAGES),
                  "setup": list(SETUP_STEPS), "pip": list(PIP_PLATFORM_ARGS),
                  "requirements": list(REQUIREMENTS), "strip": list(STRIP_GLOBS),
                  "changes": _import_changes()}
    else:
        raise ValueError(f"source must be 'offline' or 'online', not {source!r}")
    doc = {"version": RECIPE_VERSION, "source": source, "recipe": recipe}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def image_tag(source: str) -> str:
    """The tag `ensure_runtime_image` uses for `source` ("offline" or "online")."""
    return f"{IMAGE_REPO}:{source}-{image_recipe_hash(source)[:12]}"


# --------------------------------------------------------------------------- mirror

def _deb822_paragraphs(text: str) -> Iterator[dict[str, str]]:
    para: dict[str, str] = {}
    key = None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if para:
                yield para
            para, key = {}, None
        elif line[0] in " \t" and key:          # continuation of a multi-line field
            para[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            para[key] = value.strip()


def _apt_entries(etc_apt: Path) -> Iterator[tuple[str, list[str]]]:
    """(uri, suites) of each enabled `deb` entry, in the order apt reads them."""
    files = [etc_apt / "sources.list"]
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.suffix == ".sources":
            for para in _deb822_paragraphs(text):
                if "deb" not in para.get("types", "").split():
                    continue
                if para.get("enabled", "yes").lower() == "no":
                    continue
                for uri in para.get("uris", "").split():
                    yield uri, para.get("suites", "").split()
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.split("#", 1)[0])
                if m:
                    yield m.group(1), [m.group(2)]


def debian_mirror(etc_apt: Path | str = "/etc/apt") -> str | None:
    """The Debian mirror this machine's apt uses, for debootstrap; None lets debootstrap
    pick its default. Env LAMBDALAB_DEBIAN_MIRROR overrides. Only an entry for a plain
    Debian suite counts (bookworm, stable, sid, ...): security, -updates, -backports and
    other vendors' repositories (Ubuntu, third-party apt repos) cannot bootstrap Debian."""
    if os.environ.get("LAMBDALAB_DEBIAN_MIRROR"):
        return os.environ["LAMBDALAB_DEBIAN_MIRROR"]
    for uri, suites in _apt_entries(Path(etc_apt)):
        if uri.split(":", 1)[0] in ("http", "https", "ftp", "file") and \
                any(s in _DEBIAN_SUITES for s in suites):
            return uri
    return None


# --------------------------------------------------------------------------- helpers

def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "lambdalab"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def _build_lock(progress: Progress) -> Iterator[None]:
    """Exclusive across processes (flock is per open file, so across threads too)."""
    with open(_cache_dir() / "runtime-image.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another process is building the runtime image; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _unmount_under(path: Path) -> None:
    """debootstrap mounts /proc and /sys inside the target; if it was killed they stay
    mounted, and deleting the tree would then reach into the host's /proc and /sys."""
    prefix = str(path.resolve()) + "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [ln.split()[4] for ln in lines if ln.split()[4].startswith(prefix)]
    for mp in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], check=False, capture_output=True)


def _remove_tree(path: Path) -> None:
    _unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def _run(cmd: list[str], what: str, log: Path | None = None, **kw) -> None:
    """Run a build command; on failure raise RuntimeError with the tail of its output."""
    if log is not None:
        with open(log, "wb") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kw).returncode
        output = log.read_bytes()
    else:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
        rc, output = r.returncode, r.stdout
    if rc != 0:
        tail = "\n".join(output.decode(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"lambdalab: {what} failed (exit {rc}):\n{tail}")


def _debootstrap_path() -> str | None:
    return shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.path.exists(p)), None)


def _offline_possible() -> bool:
    return os.geteuid() == 0 and _debootstrap_path() is not None


def _image_exists(client, name: str) -> bool:
    import docker.errors
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_source(client, source: str = "auto") -> str:
    """"offline" or "online" for `source` ("auto" follows LAMBDALAB_IMAGE_SOURCE, then
    prefers a base image already present, then an offline build where possible)."""
    if source == "auto":
        source = os.environ.get("LAMBDALAB_IMAGE_SOURCE", "auto").strip().lower() or "auto"
    if source == "auto":
        if _image_exists(client, online_base_image()):
            return "online"
        return "offline" if _offline_possible() else "online"
    if source not in ("offline", "online"):
        raise ValueError(f"image source must be auto, offline or online, not {source!r}")
    return source


class _Stages:
    """Prints 'i/n what' with the seconds elapsed since the build started."""

    def __init__(self, progress: Progress, title: str, total: int):
        self.progress, self.title, self.total, self.n = progress, title, total, 0
        self.t0 = time.monotonic()

    def __call__(self, what: str) -> None:
        self.n += 1
        self.progress(f"building runtime image ({self.title}) ... {self.n}/{self.total} "
                      f"{what} [{time.monotonic() - self.t0:.1f} s]")

    def done(self, tag: str) -> None:
        self.progress(f"runtime image {tag} built in {time.monotonic() - self.t0:.1f} s")


# --------------------------------------------------------------------------- builds

def _build_offline(client, tag: str, labels: dict[str, str], progress: Progress) -> None:
    if os.geteuid() != 0:
        raise RuntimeError("lambdalab: the offline runtime image build needs root "
                           "(debootstrap and chroot); run as root or use source='online'")
    debootstrap = _debootstrap_path()
    if debootstrap is None:
        raise RuntimeError("lambdalab: the offline runtime image build needs debootstrap: "
                           "apt-get install -y debootstrap")
    mirror = debian_mirror()
    stage = _Stages(progress, f"offline: debootstrap {DEBIAN_SUITE}", 4)
    # Build under the cache dir, not /tmp: it holds the lock, so anything left in it by a
    # killed build is known to be stale and is removed here.
    builds = _cache_dir() / "build"
    builds.mkdir(exist_ok=True)
    for stale in builds.iterdir():
        _remove_tree(stale)
    work = Path(tempfile.mkdtemp(prefix="image-", dir=builds))
    rootfs = work / "rootfs"
    try:
        stage(f"debootstrap minbase + {', '.join(DEBIAN_PACKAGES)} from {mirror or 'the default mirror'}")
        _run([debootstrap, "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", DEBIAN_SUITE,
              str(rootfs)] + ([mirror] if mirror else []), "debootstrap",
             log=work / "debootstrap.log")

        stage(f"sandbox user, directories, awslambdaric and boto3 into {PACKAGES_PATH}")
        chroot_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        script = "set -e\n" + "\n".join(SETUP_STEPS)
        _run(["chroot", str(rootfs), "/bin/sh", "-c", script], "image setup", env=chroot_env)
        # pip runs on the host (the rootfs has no pip); the platform flags fetch wheels
        # for the image's Python, not the host's. Bytecode is compiled by the image's own
        # interpreter below, because the root filesystem is read-only at run time.
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-compile", "--target", str(rootfs / PACKAGES_PATH.lstrip("/")),
              *PIP_PLATFORM_ARGS, *REQUIREMENTS], "pip install awslambdaric boto3",
             env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
        _run(["chroot", str(rootfs), "python3", "-m", "compileall", "-q", PACKAGES_PATH],
             "compileall", env=chroot_env)

        stage("strip caches, docs, translations")
        for pattern in STRIP_GLOBS:
            for p in rootfs.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()

        stage("tar + docker import")
        tarball = work / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], "tar")
        changes = _import_changes() + [f"LABEL {k}={v}" for k, v in labels.items()]
        repo, _, tag_part = tag.rpartition(":")
        # A str src must be an existing file path: the SDK would treat anything else as a
        # URL for the engine to fetch. The file path form also posts with no timeout.
        out = client.api.import_image(src=str(tarball), repository=repo, tag=tag_part,
                                      changes=changes)
        for line in str(out).splitlines():
            msg = json.loads(line) if line.strip().startswith("{") else {}
            if "error" in msg:
                raise RuntimeError(f"lambdalab: docker import failed: {msg['error']}")
        if not _image_exists(client, tag):
            raise RuntimeError(f"lambdalab: docker import returned {out!r} but {tag} is absent")
        stage.done(tag)
    finally:
        _remove_tree(work)


def _build_online(client, tag: str, labels: dict[str, str], progress: Progress) -> None:
    base = online_base_image()
    stage = _Stages(progress, f"online: FROM {base}", 1)
    stage("docker build (pulls the base image if it is absent)")
    error = None
    # pull=False: do not re-pull a base that is present; an absent one is still pulled.
    # rm/forcerm: no intermediate containers left behind, even when a step fails.
    for chunk in client.api.build(fileobj=io.BytesIO(dockerfile_text(base).encode()),
                                  tag=tag, labels=labels, pull=False, rm=True, forcerm=True,
                                  decode=True):
        if "error" in chunk:
            error = chunk["error"].strip()
        elif chunk.get("stream", "").startswith("Step "):
            progress("  " + chunk["stream"].strip())
    if error or not _image_exists(client, tag):
        raise RuntimeError(
            f"lambdalab: could not build the runtime image online from base image {base!r}: "
            f"{error or 'no image produced'}. If no registry is reachable, use "
            f"source='offline' (root and `apt-get install -y debootstrap`), or "
            f"`docker load` the base image first.")
    stage.done(tag)


def ensure_runtime_image(client, *, source: str = "auto", progress: Progress | None = None) -> str:
    """Return the tag of the runtime image, building it first if it does not exist.

    `client` is a docker.DockerClient. `source` is "auto", "offline" or "online" (see
    resolve_source). The tag is f"{IMAGE_REPO}:<source>-<hash12>", so an existing image
    is the cache: it is returned at once and `progress` is not called; with "auto", the
    current image of either recipe is used before anything is built. `progress` gets
    one line per build stage (default: stderr). Concurrent callers (other processes)
    wait for one build. Raises RuntimeError, saying what is missing, if it cannot build.
    """
    progress = progress or _stderr_progress
    if source == "auto" and not os.environ.get("LAMBDALAB_IMAGE_SOURCE", "").strip():
        # An image either recipe built is as good as the other: use it before building one
        # (a machine without debootstrap may still have the offline image, and the reverse).
        for candidate in ("offline", "online"):
            if _image_exists(client, image_tag(candidate)):
                return image_tag(candidate)
    source = resolve_source(client, source)
    digest = image_recipe_hash(source)
    tag = f"{IMAGE_REPO}:{source}-{digest[:12]}"
    if _image_exists(client, tag):
        return tag
    with _build_lock(progress):
        if _image_exists(client, tag):  # built by whoever held the lock before us
            return tag
        labels = {"lambdalab": "1", "lambdalab.kind": "runtime-image",
                  "lambdalab.recipe": digest, "lambdalab.source": source}
        build = _build_offline if source == "offline" else _build_online
        build(client, tag, labels, progress)
    return tag


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lambdalab_ext.runtime.image",
                                 description="Build (or find) lambdalab's runtime image.")
    ap.add_argument("--source", choices=("auto", "offline", "online"), default="auto")
    ap.add_argument("--print-tag", action="store_true",
                    help="print only the tag on stdout (progress still goes to stderr)")
    args = ap.parse_args(argv)
    import docker
    client = docker.from_env()
    try:
        tag = ensure_runtime_image(client, source=args.source)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    if args.print_tag:
        print(tag)
    else:
        size = client.images.get(tag).attrs.get("Size", 0) / 1e6
        print(f"runtime image: {tag} ({size:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
