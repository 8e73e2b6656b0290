"""The two set-up commands as a new user meets them: nothing reinstalled when up to date, apt's
lock waited for, JupyterLab started as root."""

import fcntl
import os
import shutil
import subprocess
import threading
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(TOP, "scripts", "setup.sh")


def _run(*cmd, timeout=300, **kw):
    return subprocess.run(cmd, cwd=TOP, capture_output=True, text=True, timeout=timeout, **kw)


def test_setup_skips_what_is_up_to_date():
    """The suite itself was started by `scripts/setup.sh test`: a second run installs nothing."""
    r = _run("bash", SETUP, "test")
    assert r.returncode == 0, r.stderr
    assert "is installed and up to date" in r.stderr
    assert "installing lambdalab" not in r.stderr
    assert "Warning" not in r.stderr and "!!" not in r.stderr   # no setuptools banner either


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get"), reason="apt needs root (CI is root)")
def test_apt_install_waits_for_another_apt():
    """Another apt holding dpkg's lock: setup waits for it instead of failing "Could not get lock"."""
    with open(SETUP) as f:
        text = f.read()
    function = text[text.index("apt_install() {"):text.index("\n}\n", text.index("apt_install() {")) + 3]
    lock = open("/var/lib/dpkg/lock-frontend", "w")
    fcntl.lockf(lock, fcntl.LOCK_EX)     # what apt and dpkg take (fcntl record locks)
    released = threading.Timer(3.0, lambda: (fcntl.lockf(lock, fcntl.LOCK_UN), lock.close()))
    released.start()
    started = time.monotonic()
    try:
        # An installed package: apt takes the lock and has nothing to download.
        r = _run("bash", "-c", f"set -euo pipefail\nsay() {{ :; }}\napt_updated=1\n{function}\napt_install hostname")
    finally:
        released.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - started >= 2.5, "apt did not wait for the lock"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root meets JupyterLab's refusal")
def test_lab_starts_as_root():
    r = _run("bash", os.path.join(TOP, "scripts", "lab.sh"), "--version", timeout=600)
    assert r.returncode == 0, r.stderr
    assert "--allow-root" in r.stderr
    assert r.stdout.strip().split(".")[0] == "4"      # JupyterLab 4 answered
