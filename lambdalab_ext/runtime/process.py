"""Process backend: one subprocess per execution environment, where no Docker engine exists.

The same runtime client and the same Runtime API as the Docker backend, with a clean environment,
its own temporary directory (``TMPDIR``), its own session (so a kill takes its children too) and
resource limits. It is a weaker isolation, and says so: the function runs as your user and can read
your files, reach the network and import the host's packages; memory is watched and the process
killed above the limit (not a kernel limit), CPU is not scaled with memory, and /tmp is not a
separate filesystem.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

from .docker import GUEST_DIR
from .logs import LogCollector
from .sandbox import Sandbox

WATCH_INTERVAL_S = 0.02


def _read_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class ProcessSandbox(Sandbox):
    def __init__(self, backend, environment, env_vars, events):
        super().__init__(backend, environment, events)
        self._peak_kb = 0
        self.tmp = os.path.join(self.folder, "tmp")
        os.makedirs(self.tmp, mode=0o700)
        command, runtime_env = backend.runtime_command(self.config)
        self.env = {**env_vars, **runtime_env, "TMPDIR": self.tmp, "HOME": self.tmp,
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.command = command
        self.code_dir = environment.code_dir
        self.proc = None

    def _limits(self):
        memory = self.config.memory_mb * 1024 * 1024
        # Address space far above the memory size, only a backstop: the watcher enforces the limit
        # on resident memory, which is what Lambda limits.
        resource.setrlimit(resource.RLIMIT_AS, (memory * 4 + (1 << 30),) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.config.ephemeral_storage_mb * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def start(self, attach_api=None):
        read_fd, write_fd = os.pipe()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command, cwd=self.code_dir, env=self.env, stdin=subprocess.DEVNULL, stdout=write_fd,
            stderr=write_fd, close_fds=True, start_new_session=True, preexec_fn=self._limits)
        os.close(write_fd)
        self.logs = LogCollector(read_fd, name=f"logs-{self.proc.pid}")
        threading.Thread(target=self._watch, name=f"watch-{self.proc.pid}", daemon=True).start()
        return started

    def _watch(self):
        limit_kb = self.config.memory_mb * 1024
        while True:
            code = self.proc.poll()
            if code is not None:
                self.report_exit(code)
                return
            rss = _read_status_kb(self.proc.pid, "VmHWM")
            if rss:
                self._peak_kb = max(self._peak_kb, rss)
                if rss > limit_kb and not self.killed:
                    self.oom = True
                    self._killpg()
            time.sleep(WATCH_INTERVAL_S)

    def before_invoke(self, timeout_s):
        """RLIMIT_CPU: at most the timeout's worth of CPU seconds more than used so far, a backstop
        to the wall-clock timeout that holds even if the lab itself were stalled."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            soft = int(used + timeout_s) + 2
            resource.prlimit(self.proc.pid, resource.RLIMIT_CPU, (soft, soft + 1))
        except (OSError, ValueError, IndexError):
            pass

    def max_memory_bytes(self):
        rss = _read_status_kb(self.proc.pid, "VmHWM") if self.proc else None
        if rss:
            self._peak_kb = max(self._peak_kb, rss)
        return self._peak_kb * 1024 or None

    def _killpg(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self):
        self.killed = True
        if self.proc is not None:
            self._killpg()

    def destroy(self):
        self.backend._sandboxes.discard(self)
        self.kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.logs is not None:
            self.logs.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class ProcessBackend:
    """Execution environments as local subprocesses: a weaker, clearly labelled fallback."""

    name = "process"
    isolation = ("subprocess per environment (WEAKER isolation): runs as your user with your files and "
                 "network; memory watched, not enforced by the kernel; CPU not scaled with memory")
    runtime_dir = GUEST_DIR
    runtime_api_host = "127.0.0.1"
    runtime_api_address = None     # a server of ours on the loopback, on an ephemeral port
    runtime_version = f"python:{sys.version_info.major}.{sys.version_info.minor}.lambdalab.process"

    def __init__(self, lab_id, workdir):
        self.lab_id = lab_id
        self.workdir = workdir
        self._sandboxes = set()

    def runtime_version_arn(self, region):
        return f"arn:aws:lambda:{region}::runtime:lambdalab-process-{sys.version_info.major}{sys.version_info.minor}"

    def task_root(self, code_dir):
        return code_dir

    def runtime_command(self, config):
        if config.runtime_client == "awslambdaric":
            return [sys.executable, "-m", "awslambdaric", config.handler_string], {}
        return [sys.executable, os.path.join(GUEST_DIR, "bootstrap.py")], {}

    def create_sandbox(self, environment, env_vars, events):
        sandbox = ProcessSandbox(self, environment, env_vars, events)
        self._sandboxes.add(sandbox)
        return sandbox

    def close(self):
        for sandbox in list(self._sandboxes):
            sandbox.destroy()
        self._sandboxes.clear()
