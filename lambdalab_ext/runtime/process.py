"""Process backend: one subprocess per execution environment, where no Docker engine exists.

The same runtime client and the same Runtime API as the Docker backend. The runtime processes are
started by a small *supervisor*: this file run as its own process, standard library only. The
supervisor forks each runtime (forking a small process is fast, where forking a large Jupyter kernel
is not), reaps every process an environment leaves behind (it is their subreaper), and when the lab
goes away by any means, its end of the control socket closes and the supervisor kills every
environment before it exits.

What an environment gets depends on what the lab may do (``ProcessBackend.isolation`` says which):

* **The lab runs as root** (``root_isolation``): each environment runs as a user id of its own,
  unprivileged, with no capabilities and no-new-privileges, like Lambda's ``sbx_user1051``; every
  process of that user is the environment's, so a ``setsid`` or double-forked child dies with it
  (killed as that user, and confirmed gone before the user id is used again). Lambda's quota of 1,024
  processes or threads is a real per-environment limit (``RLIMIT_NPROC`` binds every user but root).
  Memory is limited by the kernel in a memory cgroup without swap, so running out of memory is a
  kill, reported as ``Runtime.OutOfMemory``, as Lambda and the Docker backend do; a CPU cgroup
  gives Lambda's share, memory / 1,769 MB of a vCPU. A mount namespace gives Lambda's layout: the
  code read-only in ``/var/task``, ``/tmp`` the environment's own folder, no ``/dev/shm`` nor other
  world-writable host folder, and the rest of ``/var`` hidden; an IPC namespace of its own. The
  host's other files, its network and its process list are still there (as that user sees them).
* **The lab runs as a user**: the function runs as that user too and can read that user's files,
  signal the lab's processes and reach the network. A small per-environment subreaper kills every
  process the environment started; the process limit is shared with the user's other processes;
  memory is watched (resident memory above the limit is killed and reported as
  ``Runtime.OutOfMemory``), not enforced by the kernel, and CPU is not scaled with memory.

The limits are Lambda's ("Lambda quotas": execution processes/threads 1,024, file descriptors
1,024). Where a means is missing (in a container without CAP_SYS_ADMIN there is no mount namespace
and no cgroup to write), the environment gets what remains, and ``isolation`` lists what is not
available.

A lab that died without shutting down (its kernel killed) takes its environments with it through the
supervisor; if the supervisor was killed too, the next supervisor (the next ``Lab()`` on the process
backend, or ``reap_orphans()``) kills what is left of them, from the user ids still claimed by a
supervisor that is gone.
"""

import functools
import json
import os
import resource
import select
import signal
import shutil
import socket
import sys
import threading
import weakref
import time

SANDBOX_UID_BASE = 0x7A000000      # systemd leaves 1879048192-2147483647 unassigned: no user lives here
SANDBOX_UID_COUNT = 65536
PROCESS_LIMIT = 1024               # Lambda quotas: 1,024 processes or threads per execution environment
OPEN_FILES_LIMIT = 1024            # Lambda quotas: 1,024 file descriptors
KILL_TIMEOUT_S = 10.0

# Linux constants (not in the os module)
_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 36, 38
_O_PATH = getattr(os, "O_PATH", 0o10000000)


# =================================================================================================
# The supervisor: its own small process (``python -I -S process.py FD CONFIG``). Standard library
# only, and nothing below the ``__main__`` block, which needs the package.
# =================================================================================================

def _send(sock, message, fds=()):
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _start_time(pid, living=False):
    """A process's start time (clock ticks since boot): with the pid, it names one process for good.

    ``living``: None for a zombie (dead, waiting for its parent to read its status).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if living and fields[0] == "Z" else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _under(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class _Libc:
    """unshare, mount and prctl, which the os module lacks."""

    def __init__(self):
        import ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._ctypes = ctypes

    def _check(self, result, what):
        if result != 0:
            code = self._ctypes.get_errno()
            raise OSError(code, f"{what}: {os.strerror(code)}")

    def unshare(self, flags):
        self._check(self._libc.unshare(flags), "unshare")

    def mount(self, source, target, fstype, flags, data=None):
        enc = (lambda s: s.encode() if isinstance(s, str) else s)
        self._check(self._libc.mount(enc(source), enc(target), enc(fstype), self._ctypes.c_ulong(flags),
                                     enc(data)), f"mount {target}")

    def prctl(self, option, value):
        self._check(self._libc.prctl(option, self._ctypes.c_ulong(value), 0, 0, 0), "prctl")


class _Cgroups:
    """A memory cgroup (and a CPU one, where there is the controller) per environment, v1 or v2.

    Memory: the kernel kills above the memory size, without swap, as in Lambda. CPU: a quota of
    Lambda's share, memory / 1,769 MB of a vCPU, which also keeps a spinning fork bomb to it.
    """

    def __init__(self, supervisor_pid):
        self.version = None
        self.bases = {}       # controller -> the folder of this supervisor's environments
        own = {}
        try:
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, controllers, path = line.rstrip("\n").split(":", 2)
                    for c in controllers.split(",") if controllers else ["unified"]:
                        own[c] = path
        except OSError:
            return
        name = f"lambdalab-{supervisor_pid}"
        if os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") and "memory" in own:
            # v1: below the lab's own cgroups, so the environments stay inside its limits.
            for controller, probe in (("memory", "memory.limit_in_bytes"), ("cpu", "cpu.cfs_quota_us")):
                if controller in own and os.path.exists(f"/sys/fs/cgroup/{controller}/{probe}"):
                    base = os.path.normpath(f"/sys/fs/cgroup/{controller}/{own[controller]}/{name}")
                    try:
                        os.mkdir(base, 0o755)
                        self.bases[controller] = base
                    except OSError:
                        pass
            self.version = "v1" if "memory" in self.bases else None
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            # v2: a cgroup with processes cannot give controllers to children ("no internal
            # processes"), and the lab's own has the lab in it: the environments go below the root.
            base = f"/sys/fs/cgroup/{name}"
            try:
                with open("/sys/fs/cgroup/cgroup.controllers") as f:
                    wanted = [c for c in ("memory", "cpu") if c in f.read().split()]
                with open("/sys/fs/cgroup/cgroup.subtree_control") as f:
                    enabled = f.read().split()
                for c in wanted:
                    if c not in enabled:
                        _write("/sys/fs/cgroup/cgroup.subtree_control", "+" + c)
                os.mkdir(base, 0o755)
                self.bases = {c: base for c in wanted}
                _write(f"{base}/cgroup.subtree_control", " ".join("+" + c for c in wanted))
                self.version = "v2" if "memory" in wanted else None
            except OSError:
                pass
        if self.version is None:
            self.remove()
        for base in set(self.bases.values()):
            self._remove_stale(os.path.dirname(base))

    @staticmethod
    def _remove_stale(parent):
        """Folders of supervisors that were killed: empty ones go (one with a cgroup in use stays)."""
        for name in os.listdir(parent):
            if name.startswith("lambdalab-") and name[10:].isdigit() and _start_time(int(name[10:]), True) is None:
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass

    def create(self, uid):
        """The environment's cgroup folders, the memory one first; no limits yet (see ``limit``)."""
        folders = []
        try:
            for base in self.bases.values():
                path = f"{base}/u{uid}"
                if path not in folders:
                    os.mkdir(path, 0o755)
                    folders.append(path)
        except OSError:
            for path in folders:
                self.remove_dir(path)
            raise
        return folders

    def limit(self, folders, memory_mb, cpus):
        limit = str(memory_mb * 1024 * 1024)
        quota = max(1000, int(cpus * 100000))    # microseconds of CPU per 100 ms
        for controller in self.bases:
            path = folders[0] if self.version == "v2" or controller == "memory" else folders[1]
            if self.version == "v1" and controller == "memory":
                _write(f"{path}/memory.limit_in_bytes", limit)     # the swap limit must stay above it
                if os.path.exists(f"{path}/memory.memsw.limit_in_bytes"):   # no swap, as in Lambda
                    _write(f"{path}/memory.memsw.limit_in_bytes", limit)
            elif self.version == "v1":
                _write(f"{path}/cpu.cfs_period_us", "100000")
                _write(f"{path}/cpu.cfs_quota_us", str(quota))
            elif controller == "memory":
                _write(f"{path}/memory.max", limit)
                if os.path.exists(f"{path}/memory.swap.max"):
                    _write(f"{path}/memory.swap.max", "0")
            else:
                _write(f"{path}/cpu.max", f"{quota} 100000")

    @property
    def cpu(self):
        return "cpu" in self.bases

    def peak_file(self, path):
        return f"{path}/memory.max_usage_in_bytes" if self.version == "v1" else f"{path}/memory.peak"

    def oom_kills(self, path):
        name = "memory.oom_control" if self.version == "v1" else "memory.events"
        try:
            with open(f"{path}/{name}") as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    @staticmethod
    def remove_dir(path):
        for _ in range(100):   # a cgroup is busy for a moment after its last process is reaped
            try:
                os.rmdir(path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                time.sleep(0.005)
        return False

    def remove(self):
        for base in set(self.bases.values()):
            self.remove_dir(base)


class _Environment:
    def __init__(self, sid):
        self.sid = sid
        self.pid = None          # the runtime (or, as a user, its per-environment subreaper)
        self.uid = None
        self.cgroups = []        # its cgroup folders, the memory one first
        self.status = None       # the runtime's exit code, -N for a signal
        self.status_pipe = None  # as a user: the subreaper reports the runtime's pid and status here
        self.status_text = ""
        self.spare_sock = None   # a spare: how its spec reaches it
        self.ended = False


class _Supervisor:
    def __init__(self, sock, config):
        self.sock = sock
        self.config = config
        self.envs = {}
        self.by_pid = {}
        self.ended = []
        self.pid = os.getpid()
        self.owner = f"{self.pid} {_start_time(self.pid)}"
        self.libc = _Libc()
        self.libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
        self.uid_mode = False
        self.layout = "host"     # or "lambda": /var/task and /tmp of its own, in a mount namespace
        self.cgroups = None
        self.claims = None
        self.spare = None
        self.notes = []
        self._plan = []
        if config["root_isolation"] and os.geteuid() == 0:
            try:
                self._setup_root()
            except Exception as exc:    # then the function runs as the lab's user, and it says so
                self.uid_mode, self.layout = False, "host"
                if self.cgroups is not None:
                    self.cgroups.remove()
                    self.cgroups = None
                self.notes.append(f"root's means ({type(exc).__name__}: {exc})")

    # -- what this lab may do --------------------------------------------------------------------
    def _setup_root(self):
        self.claims = self._claims_dir()
        if self.claims is None:
            self.notes.append("no folder for user id claims")
            return
        self._reap_stale_claims()
        self._plan = self._mount_plan()
        self.layout = "lambda"
        if self._probe():
            self.uid_mode = True
        else:
            self.layout = "host"
            if self._probe():
                self.uid_mode = True
                self.notes.append("no mount namespace")
            else:
                self.notes.append("an unprivileged user cannot run this Python")
        if self.uid_mode:
            cgroups = _Cgroups(self.pid)
            if cgroups.version:
                self.cgroups = cgroups
            else:
                self.notes.append("no memory cgroup")

    def _claims_dir(self):
        for path in self.config["claims_dirs"]:
            try:
                os.makedirs(path, 0o700, exist_ok=True)
                st = os.lstat(path)
            except OSError:
                continue
            # In a world-writable place another user could have made it first: only ours will do.
            if os.path.isdir(path) and not os.path.islink(path) and st.st_uid == 0 and st.st_mode & 0o077 == 0:
                return path
        return None

    def _mount_plan(self):
        """Folders to cover with an empty tmpfs, each with the paths to bring back inside it.

        The function's Python may sit under a folder other users cannot enter (``/root/.pyenv``):
        covering that folder and binding the interpreter back opens the way to it and to nothing
        else there. ``/var`` is covered to hold ``/var/task``.
        """
        python = sorted({os.path.realpath(p) for p in self.config["needed_paths"] if os.path.exists(p)})
        # The lab's folder too: were it under a folder the sandbox user cannot enter, a spare's
        # namespace (made before the environment's folders exist) would hide them.
        needed = sorted(set(python) | {os.path.realpath(self.config["workdir"])})
        covers = {"/var"} if os.path.isdir("/var") else set()
        for path in needed:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                folder = "/" + "/".join(parts[:i])
                try:
                    if not os.stat(folder).st_mode & 0o001:
                        covers.add(folder)
                        break
                except OSError:
                    break
        covers = sorted(c for c in covers if not any(c != o and _under(c, o) for o in covers))
        plan = []
        for cover in covers:
            inside = [p for p in needed if _under(p, cover) and p != cover]
            inside = [p for p in inside if not any(p != q and _under(p, q) for q in inside)]
            plan.append((cover, inside))
        self._private_tmp = not any(_under(p, "/tmp") for p in python)
        self._writable = self._world_writable(covers)
        return plan

    @staticmethod
    def _world_writable(covers):
        """World-writable folders near the top of the tree, outside /tmp and what is covered."""
        found = []
        for top in ("/", "/dev", "/run", "/var", "/srv", "/opt", "/usr", "/home"):
            try:
                names = os.listdir(top)
            except OSError:
                continue
            for name in names:
                path = os.path.join(top, name)
                if _under(path, "/tmp") or _under(path, "/proc") or _under(path, "/sys") or \
                        any(_under(path, c) for c in covers):
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if (st.st_mode & 0o170000) == 0o040000 and st.st_mode & 0o002:
                    found.append(path)
        return sorted(set(found))

    def _probe(self):
        """Start nothing yet: check in a child that the sandbox user can reach the interpreter."""
        uid = self._claim_uid()
        probe = os.path.join(self.claims, f"probe-{self.pid}")
        code, tmp = os.path.join(probe, "code"), os.path.join(probe, "tmp")
        try:
            os.makedirs(code, 0o755, exist_ok=True)
            os.makedirs(tmp, 0o700, exist_ok=True)
            os.chown(tmp, uid, uid)
            os.chmod(probe, 0o755)
            pid = os.fork()
            if pid == 0:
                ok = False
                try:
                    self._enter(uid, code, tmp, {"FSIZE": 1 << 20}, as_child=False)
                    paths = [self.config["python"]] + self.config["needed_paths"]
                    ok = all(os.access(p, os.R_OK | os.X_OK) for p in paths if os.path.isdir(p)) and \
                        os.access(self.config["python"], os.X_OK)
                    if self.layout == "lambda":
                        ok = ok and os.access("/var/task", os.R_OK | os.X_OK) and os.access("/tmp", os.W_OK)
                finally:
                    os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status) == 0
        finally:
            self._release_uid(uid)     # its one process, reaped above, was all that ran as it
            for path in (code, tmp, probe):
                try:
                    os.rmdir(path)
                except OSError:
                    pass

    # -- user ids --------------------------------------------------------------------------------
    def _claim_uid(self):
        start = int.from_bytes(os.urandom(2), "little")
        for i in range(SANDBOX_UID_COUNT):
            uid = SANDBOX_UID_BASE + (start + i) % SANDBOX_UID_COUNT
            try:
                fd = os.open(os.path.join(self.claims, str(uid)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            try:
                os.write(fd, f"{self.owner}\n".encode())
            finally:
                os.close(fd)
            return uid
        raise RuntimeError("every sandbox user id is taken")

    def _record_cgroup(self, uid, path):
        with open(os.path.join(self.claims, str(uid)), "a") as f:
            f.write(path + "\n")

    def _release_uid(self, uid):
        try:
            os.unlink(os.path.join(self.claims, str(uid)))
        except OSError:
            pass

    def _reap_stale_claims(self):
        """User ids claimed by a supervisor that is gone: kill what still runs as them, free them."""
        for name in os.listdir(self.claims):
            if not name.isdigit():
                continue
            path = os.path.join(self.claims, name)
            try:
                with open(path) as f:
                    owner, *cgroups = f.read().splitlines()
                pid, started = owner.split()
            except (OSError, ValueError):
                continue
            if str(_start_time(int(pid), living=True)) == started:
                continue   # its supervisor lives
            # Its orphans went to the machine's init, which reaps them when it will: a zombie left
            # is dead, and no reason to keep the user id.
            if self._kill_uid(int(name), 0.5) or self._only_zombies(int(name)):
                for cgroup in cgroups:
                    _Cgroups.remove_dir(cgroup)
                    if os.path.basename(os.path.dirname(cgroup)).startswith("lambdalab-"):
                        try:
                            os.rmdir(os.path.dirname(cgroup))
                        except OSError:
                            pass
                self._release_uid(int(name))

    @staticmethod
    def _only_zombies(uid):
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/status") as f:
                        fields = dict(line.split(":", 1) for line in f)
                except (OSError, ValueError):
                    continue
                if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                    return False
        return True

    def _kill_uid(self, uid, timeout_s):
        """Kill every process of ``uid`` and return once none is left, zombies included.

        A child of ours becomes ``uid`` and sends SIGKILL to all it may signal (``kill(-1)``: exactly
        that user's processes), then tries to fork with a process limit of 2: the kernel counts the
        user's processes, so the fork succeeds only when it is the last one. Meanwhile we reap the
        dead (as subreaper, the orphans are ours).
        """
        killer = os.fork()
        if killer == 0:
            code = 2
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                resource.setrlimit(resource.RLIMIT_NPROC, (2, 2))
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                deadline = time.monotonic() + timeout_s
                while True:
                    os.kill(-1, signal.SIGKILL)
                    try:
                        probe = os.fork()
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            code = 1
                            break
                        time.sleep(0.0005)
                        continue
                    if probe == 0:
                        os._exit(0)
                    os.waitpid(probe, 0)
                    code = 0
                    break
            finally:
                os._exit(code)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == killer:
                return os.waitstatus_to_exitcode(status) == 0
            self._reaped(pid, status)

    # -- one environment -------------------------------------------------------------------------
    def _enter(self, uid, code_dir, tmp, limits, as_child=True, prepared=False, opt_dir=None):
        """In the forked child, as root: become the sandbox (the exec follows)."""
        if self.layout == "lambda":
            if not prepared:
                self._prepare_namespace()
            self._finish_namespace(code_dir, tmp, opt_dir)
        for name, value in limits.items():
            kind = getattr(resource, "RLIMIT_" + name)
            hard = resource.getrlimit(kind)[1]      # above it takes CAP_SYS_RESOURCE, even as root
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if as_child:
            # After the user change, which clears it; our parent is single-threaded, so "parent
            # death" is our death (a thread of a lab that ended would count as one).
            self.libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.parent_pid:
                os._exit(1)
        self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1)

    def _prepare_namespace(self):
        """A mount namespace of Lambda's layout, but for the two folders of one environment.

        And an IPC namespace: System V shared memory and message queues made by the function go
        with it, where on the host's they would outlive it (memory no cgroup holds any more).
        """
        libc = self.libc
        libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC)
        libc.mount("none", "/", None, _MS_REC | _MS_PRIVATE)
        # Handles on what the covers hide, taken in the new namespace (a bind mount's source must
        # be in the caller's): they reach their folders after the covering tmpfs is on.
        keep = {p: os.open(p, _O_PATH) for _, inside in self._plan for p in inside}
        os.umask(0o022)
        for cover, inside in self._plan:
            libc.mount("tmpfs", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
            for path in inside:
                os.makedirs(path, exist_ok=True)
                libc.mount(f"/proc/self/fd/{keep[path]}", path, None, _MS_BIND | _MS_REC)
        os.makedirs("/var/task", exist_ok=True)
        # Folders everyone may write (/dev/shm, /run/lock): what the function left there would
        # outlive it. Lambda has none of them; an empty read-only tmpfs on each.
        for folder in self._writable:
            libc.mount("tmpfs", folder, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                       "mode=0755,size=4k")
        for fd in keep.values():
            os.close(fd)

    def _finish_namespace(self, code_dir, tmp, opt_dir=None):
        """The environment's code, read-only, in /var/task; its layers, read-only, in /opt; its own
        folder as /tmp."""
        libc = self.libc
        code_fd, tmp_fd = os.open(code_dir, _O_PATH), os.open(tmp, _O_PATH)
        libc.mount(f"/proc/self/fd/{code_fd}", "/var/task", None, _MS_BIND)
        libc.mount("none", "/var/task", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        if opt_dir is not None and os.path.isdir("/opt"):
            opt_fd = os.open(opt_dir, _O_PATH)
            libc.mount(f"/proc/self/fd/{opt_fd}", "/opt", None, _MS_BIND)
            libc.mount("none", "/opt", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
            os.close(opt_fd)
        if self._private_tmp:
            libc.mount(f"/proc/self/fd/{tmp_fd}", "/tmp", None, _MS_BIND)
        os.close(code_fd)
        os.close(tmp_fd)

    def _limits(self, spec):
        limits = {"NOFILE": OPEN_FILES_LIMIT, "CORE": 0, "FSIZE": spec["fsize"]}
        if self.uid_mode:
            limits["NPROC"] = self.config["process_limit"]
        else:
            # The limit counts every process of the user: allow the function 1,024 more than run now.
            with open("/proc/loadavg") as f:
                tasks = int(f.read().split()[3].split("/")[1])
            limits["NPROC"] = tasks + self.config["process_limit"]
        if self.cgroups is None:
            # The watcher in the lab enforces the memory size on resident memory; the address
            # space limit is only a backstop far above it, so that running out is the watcher's
            # kill (Runtime.OutOfMemory), not a MemoryError inside the function.
            ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            limits["AS"] = spec["memory_mb"] * 1024 * 1024 + ram
        return limits

    def spawn(self, message, fds):
        sid = message["id"]
        log_fd = fds[0]
        env, spare, self.spare = self.spare, True, None
        try:
            if env is None:
                spare = False
                env = _Environment(sid)
                if self.uid_mode:
                    env.uid = self._claim_uid()
                    env.cgroups = self._new_cgroups(env.uid)
            env.sid = sid
            message["limits"] = self._limits(message)
            self.parent_pid = os.getpid()
            if spare:
                try:
                    socket.send_fds(env.spare_sock, [json.dumps(message).encode()], [log_fd])
                except OSError:     # it died meanwhile: start one the ordinary way
                    env.ended = True
                    self._stop(env)
                    self._release(env)
                    return self.spawn(message, [os.dup(log_fd)])
                env.spare_sock.close()
                env.spare_sock = None
            elif self.uid_mode:
                env.pid = os.fork()
                if env.pid == 0:
                    self._runtime(message, log_fd, env)
            else:
                read_end, write_end = os.pipe()
                env.pid = os.fork()
                if env.pid == 0:
                    os.close(read_end)
                    self._subreaper(message, log_fd, env, write_end)
                os.close(write_end)
                env.status_pipe = read_end
                env.status_text = os.read(read_end, 64).decode()   # "<runtime pid>\n", later its status
                runtime_pid = int(env.status_text.split()[0])
        except Exception as exc:
            self._release(env)
            self._tell({"op": "failed", "id": sid, "error": f"{type(exc).__name__}: {exc}"})
            return
        finally:
            os.close(log_fd)
        self.envs[sid] = env
        self.by_pid[env.pid] = env
        self._tell({"op": "started", "id": sid, "pid": env.pid if self.uid_mode else runtime_pid,
                    "uid": env.uid,
                    "peak_file": self.cgroups.peak_file(env.cgroups[0]) if env.cgroups else None})
        self._make_spare()

    def _new_cgroups(self, uid):
        if self.cgroups is None:
            return []
        folders = self.cgroups.create(uid)
        for path in folders:
            self._record_cgroup(uid, path)
        return folders

    def _make_spare(self):
        """A child already in the next environment's cgroups, waiting for its spec.

        Moving a process into a cgroup waits for the kernel (an RCU grace period: 15-20 ms here,
        as long as the Python start itself). A spare does that wait before anyone asks.
        """
        if self.spare is not None or not self.uid_mode or self.cgroups is None:
            return
        env = _Environment(None)
        try:
            env.uid = self._claim_uid()
            env.cgroups = self._new_cgroups(env.uid)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except Exception:
            self._release(env)
            return
        self.parent_pid = os.getpid()
        env.pid = os.fork()
        if env.pid == 0:
            self._spare(theirs, env)
        theirs.close()
        env.spare_sock = ours
        self.by_pid[env.pid] = env
        self.spare = env

    def _spare(self, sock, env):
        """The spare's side. Never returns."""
        try:
            fd = sock.detach()
            signal.set_wakeup_fd(-1)
            os.closerange(3, fd)
            os.closerange(fd + 1, 1 << 20)
            self.libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.parent_pid:
                os._exit(1)
            os.setsid()
            for path in env.cgroups:
                _write(f"{path}/cgroup.procs", str(os.getpid()))
            if self.layout == "lambda":
                self._prepare_namespace()
            data, fds, _, _ = socket.recv_fds(socket.socket(fileno=fd), 1 << 20, 4)
            if data:
                self._runtime(json.loads(data), fds[0], env, spare=True)
        finally:
            os._exit(0)

    def _child_common(self, log_fd):
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)

    def _runtime(self, message, log_fd, env, spare=False):
        """The forked child that becomes the runtime (a spare is in its cgroups already, and in
        its mount namespace). Never returns."""
        try:
            self._child_common(log_fd)
            if not spare:
                os.setsid()
                for path in env.cgroups:    # before anything runs as the function: none of it is outside
                    _write(f"{path}/cgroup.procs", str(os.getpid()))
            if env.cgroups:
                self.cgroups.limit(env.cgroups, message["memory_mb"], message["cpus"])
            if env.uid is not None:
                os.chown(message["tmp"], env.uid, env.uid)
            os.closerange(3, 1 << 20)
            self._enter(env.uid, message["code_dir"], message["tmp"], message["limits"], prepared=spare,
                        opt_dir=message.get("opt_dir"))
            os.chdir(message["cwd"])
            os.execve(message["argv"][0], message["argv"], message["env"])
        except BaseException as exc:
            try:
                os.write(2, f"lambdalab: the runtime could not start: {exc}\n".encode())
            except OSError:
                pass
        finally:
            os._exit(127)

    def _subreaper(self, message, log_fd, env, status_fd):
        """As a user: a per-environment subreaper, so the environment's processes stay findable."""
        code = 0
        try:
            self.libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
            self.libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self.parent_pid:
                os._exit(1)
            self.sock.detach()
            for name in os.listdir("/proc/self/fd"):     # the control socket and the rest are not ours
                if int(name) > 2 and int(name) not in (log_fd, status_fd):
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            stop = []

            def on_term(signum, frame):
                stop.append(signum)
                raise InterruptedError
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, on_term)
            self.parent_pid = os.getpid()
            runtime = os.fork()
            if runtime == 0:
                os.close(status_fd)
                self._runtime(message, log_fd, env)
            os.close(log_fd)
            os.write(status_fd, f"{runtime}\n".encode())
            status = None
            try:
                while status is None and not stop:
                    pid, wait_status = os.waitpid(-1, 0)
                    if pid == runtime:
                        status = os.waitstatus_to_exitcode(wait_status)
            except InterruptedError:
                pass
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            found = self._kill_descendants(runtime)
            status = status if status is not None else found
            os.write(status_fd, f"{status if status is not None else -9}\n".encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)

    @staticmethod
    def _kill_descendants(runtime):
        """Kill our children until none is left; the orphans of killed ones come to us in turn."""
        me = os.getpid()
        status = None
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while time.monotonic() < deadline:
            for child in _children(me):
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
            try:
                while True:
                    pid, wait_status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    if pid == runtime:
                        status = os.waitstatus_to_exitcode(wait_status)
            except ChildProcessError:
                return status
            time.sleep(0.001)
        return status

    def _reaped(self, pid, wait_status):
        env = self.by_pid.pop(pid, None)
        if env is None:
            return    # an orphan of some environment, reaped as its subreaper
        if env is self.spare:       # it died unused: nothing of it ran as the function
            self.spare = None
            self._release(env)
            return
        if env.ended:
            return
        if env.status_pipe is not None:     # the subreaper wrote the runtime's status before it exited
            try:
                env.status_text += os.read(env.status_pipe, 64).decode()
                env.status = int(env.status_text.split()[1])
            except (OSError, ValueError, IndexError):
                env.status = -signal.SIGKILL
                self._sweep_strays()      # the subreaper was killed: its orphans came to us
        else:
            env.status = os.waitstatus_to_exitcode(wait_status)
        self.ended.append(env)

    def _sweep_strays(self):
        """As a user: kill our children that belong to no live environment, until none is left."""
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while time.monotonic() < deadline:
            strays = [c for c in _children(self.pid) if c not in self.by_pid]
            if not strays:
                return
            for child in strays:
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.001)
            self._reap_all()

    def _stop(self, env):
        """Kill the environment; its runtime's exit is reaped (and queued) before this returns."""
        if env.uid is not None:
            if env.pid in self.by_pid:    # not reaped, so the pid is still its: maybe not yet that user
                try:
                    os.kill(env.pid, signal.SIGKILL)
                except OSError:
                    pass
            self._kill_uid(env.uid, KILL_TIMEOUT_S)
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):   # SIGTERM: the subreaper kills the rest first
            try:
                os.kill(env.pid, sig)
            except OSError:
                pass
            deadline = time.monotonic() + KILL_TIMEOUT_S
            while env.pid in self.by_pid and time.monotonic() < deadline:
                self._reap_all()
                time.sleep(0.001)
            if env.pid not in self.by_pid:
                return

    def _end(self, env):
        """The runtime is gone: say how it ended, then make sure nothing of the environment is left."""
        if env.ended:
            return
        env.ended = True
        oom = False
        peak = None
        if env.cgroups:
            oom = env.status == -signal.SIGKILL and self.cgroups.oom_kills(env.cgroups[0]) > 0
            try:
                with open(self.cgroups.peak_file(env.cgroups[0])) as f:
                    peak = int(f.read())
            except (OSError, ValueError):
                pass
        self._tell({"op": "exit", "id": env.sid, "status": env.status, "oom": oom, "peak": peak})
        # Whatever the runtime left running dies with it, as when Lambda discards an environment.
        gone = self._kill_uid(env.uid, KILL_TIMEOUT_S) if env.uid is not None else True
        self._release(env, free_uid=gone)

    def _release(self, env, free_uid=True):
        self.envs.pop(env.sid, None)
        self.by_pid.pop(env.pid, None)
        if env.spare_sock is not None:
            env.spare_sock.close()
            env.spare_sock = None
        if env.status_pipe is not None:
            os.close(env.status_pipe)
            env.status_pipe = None
        for path in env.cgroups:
            _Cgroups.remove_dir(path)
        if env.uid is not None and free_uid:   # else something of it would not die: keep it claimed
            self._release_uid(env.uid)

    def kill(self, message):
        env = self.envs.get(message["id"])
        if env is not None and not env.ended:
            self._stop(env)
            self._drain_ended()
            if not env.ended:      # it would not die
                env.ended = True
                self._tell({"op": "exit", "id": env.sid, "status": -signal.SIGKILL, "oom": False, "peak": None})
                self._release(env, free_uid=False)
        self._tell({"op": "gone", "id": message["id"]})

    def _tell(self, message):
        try:
            _send(self.sock, message)
        except OSError:
            pass    # the lab is gone; the environments follow

    def _drain_ended(self):
        while self.ended:
            self._end(self.ended.pop(0))

    def _reap_all(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._reaped(pid, status)

    def hello(self):
        self._tell({"op": "hello", "pid": self.pid, "uid_mode": self.uid_mode, "layout": self.layout,
                          "private_tmp": self.uid_mode and self.layout == "lambda" and self._private_tmp,
                          "memory_cgroup": self.cgroups.version if self.cgroups else None,
                          "cpu_cgroup": bool(self.cgroups and self.cgroups.cpu),
                          "root": os.geteuid() == 0, "notes": self.notes})

    def serve(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)     # a Ctrl-C for the kernel is not for us
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.hello()
        self._make_spare()
        while True:
            self._reap_all()
            self._drain_ended()
            ready, _, _ = select.select([self.sock, wake_r], [], [])
            if wake_r in ready:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if self.sock in ready:
                try:
                    data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
                except ConnectionError:
                    data, fds = b"", []
                if not data:
                    return     # the lab is gone, or shut down: so are its environments
                message = json.loads(data)
                if message["op"] == "spawn":
                    self.spawn(message, fds)
                elif message["op"] == "kill":
                    self.kill(message)

    def shutdown(self):
        self._reap_all()
        spare, self.spare = self.spare, None
        if spare is not None:       # root still: killed by its pid, not its user id
            try:
                os.kill(spare.pid, signal.SIGKILL)
                os.waitpid(spare.pid, 0)
            except OSError:
                pass
            self._release(spare)
        for env in list(self.envs.values()):
            try:
                self._stop(env)
                self._drain_ended()
            except Exception:
                pass
        if self.cgroups is not None:
            self.cgroups.remove()


def _supervise(fd, config):
    sock = socket.socket(fileno=fd)
    os.set_inheritable(fd, False)
    supervisor = _Supervisor(sock, config)
    try:
        supervisor.serve()
    finally:       # however it ends (the lab gone even before the hello): nothing of ours stays
        supervisor.shutdown()


def _reap(config):
    supervisor = _Supervisor(None, {**config, "root_isolation": False})
    supervisor.claims = supervisor._claims_dir()
    if supervisor.claims:
        supervisor._reap_stale_claims()


if __name__ == "__main__":
    if sys.argv[1] == "--reap":
        _reap(json.loads(sys.argv[2]))
    else:
        _supervise(int(sys.argv[1]), json.loads(sys.argv[2]))
    sys.exit(0)


# =================================================================================================
# The lab's side
# =================================================================================================

import importlib.util  # noqa: E402  (below the supervisor, which must not need the package)
import shutil       # noqa: E402
import subprocess   # noqa: E402
import tempfile     # noqa: E402

from .docker import GUEST_DIR   # noqa: E402
from .logs import LogCollector     # noqa: E402
from .sandbox import Sandbox       # noqa: E402

WATCH_INTERVAL_S = 0.02
START_TIMEOUT_S = 30.0


def _read_status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _claims_dirs():
    return ["/run/lambdalab-sandbox-uids", os.path.join(tempfile.gettempdir(), "lambdalab-sandbox-uids")]


def reap_orphans():
    """Kill what is left of environments whose supervisor was killed, and free their user ids.

    Every process-backend supervisor does it as it starts; this is for a ``Lab()`` on another
    backend. It costs a directory listing, unless something is left.
    """
    if os.geteuid() != 0:
        return      # user ids are claimed by root only
    for folder in _claims_dirs():
        try:
            names = [n for n in os.listdir(folder) if n.isdigit()]
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(folder, name)) as f:
                    pid, started = f.readline().split()
            except (OSError, ValueError):
                continue
            if str(_start_time(int(pid), living=True)) != started:
                subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), "--reap",
                                json.dumps({"claims_dirs": _claims_dirs()})], stdin=subprocess.DEVNULL,
                               timeout=60, check=False)
                return


@functools.lru_cache(maxsize=1)
def _site_packages():
    """The host interpreter's site-packages folders, as ``site`` would add them (not the user's)."""
    import site
    return tuple(p for p in site.getsitepackages() if os.path.isdir(p))


class _SupervisorClient:
    """The lab's end of the control socket: spawn and kill requests, exits and capabilities back."""

    def __init__(self, lab_id, workdir, root_isolation, process_limit):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        needed = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)), GUEST_DIR]
        needed += _site_packages()
        config = {"root_isolation": root_isolation, "process_limit": process_limit, "workdir": workdir,
                  "python": sys.executable, "needed_paths": needed,
                  "claims_dirs": _claims_dirs()}
        self.sock = ours
        self._send_lock = threading.Lock()
        self._waiting = {}      # (op, id) -> [threading.Event, reply]
        self._sandboxes = {}
        self._hello = threading.Event()
        self.capabilities = None
        self.closed = False
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(theirs.fileno()), json.dumps(config)],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._reader = threading.Thread(target=self._read, name=f"lambdalab-supervisor-{lab_id}", daemon=True)
        self._reader.start()

    def wait_ready(self, timeout=START_TIMEOUT_S):
        if not self._hello.wait(timeout) or self.capabilities is None:
            raise RuntimeError("the process backend's supervisor did not start")
        return self.capabilities

    def _read(self):
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            op, sid = message["op"], message.get("id")
            if op == "hello":
                self.capabilities = message
                self._hello.set()
            elif op == "exit":
                sandbox = self._sandboxes.get(sid)
                if sandbox is not None:
                    sandbox.on_exit(message["status"], message["oom"], message["peak"])
            else:
                waiter = self._waiting.get((op if op != "failed" else "started", sid))
                if waiter is not None:
                    waiter[1] = message
                    waiter[0].set()
        self.closed = True
        self._hello.set()
        for waiter in list(self._waiting.values()):
            waiter[0].set()
        for sandbox in list(self._sandboxes.values()):
            sandbox.on_exit(-signal.SIGKILL, False, None)

    def _request(self, message, fds=(), reply=None, timeout=START_TIMEOUT_S):
        waiter = None
        if reply is not None:
            waiter = self._waiting[(reply, message["id"])] = [threading.Event(), None]
        try:
            with self._send_lock:
                _send(self.sock, message, fds)
            if waiter is None:
                return None
            waiter[0].wait(timeout)
            return waiter[1]
        finally:
            if waiter is not None:
                self._waiting.pop((reply, message["id"]), None)

    def spawn(self, sandbox, message, log_fd):
        self._sandboxes[message["id"]] = sandbox
        try:
            reply = self._request(message, [log_fd], reply="started")
        except OSError:
            reply = None
        if reply is None or reply["op"] != "started":
            self._sandboxes.pop(message["id"], None)
            error = reply["error"] if reply else "the supervisor is gone"
            raise RuntimeError(f"the process backend could not start the runtime: {error}")
        return reply

    def kill(self, sid, wait=True):
        try:
            reply = self._request({"op": "kill", "id": sid}, reply="gone" if wait else None, timeout=KILL_TIMEOUT_S + 5)
        except OSError:
            reply = None
        if wait:
            self._sandboxes.pop(sid, None)
        return reply is not None

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(timeout=KILL_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Pid:
    """What is known of the runtime process (``proc.pid``, as for a subprocess)."""

    def __init__(self, pid):
        self.pid = pid


_LIVE_SANDBOXES = weakref.WeakSet()      # every process sandbox of this process (all labs)


def _peer_uid(sock):
    """The user id owning the other end of a loopback TCP connection (from /proc/net/tcp), or None."""
    try:
        peer_host, peer_port = sock.getpeername()[:2]
        our_host, our_port = sock.getsockname()[:2]
    except OSError:
        return None

    def hexaddr(host, port):
        return f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    local, remote = hexaddr(peer_host, peer_port), hexaddr(our_host, our_port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] == local and fields[2] == remote:
                    return int(fields[7])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return None


class ProcessSandbox(Sandbox):
    def __init__(self, backend, spec, events, on_death=None):
        super().__init__(backend, spec, events, on_death)
        _LIVE_SANDBOXES.add(self)
        self.sid = os.path.basename(self.folder)
        self._peak = 0
        self._peak_file = None
        self._fds = {}                  # kept descriptors of /proc and cgroup files (see _pread)
        self._fds_lock = threading.Lock()
        self._fds_closed = False
        self._cpu_soft = None           # the RLIMIT_CPU soft limit set last
        self._exited = threading.Event()
        self.uid = None
        self.tmp = os.path.join(self.folder, "tmp")
        os.makedirs(self.tmp, mode=0o700)
        caps = backend.capabilities
        self.lambda_layout = caps["uid_mode"] and caps["layout"] == "lambda"
        tmp = "/tmp" if self.lambda_layout and caps["private_tmp"] else self.tmp
        command, runtime_env = backend.runtime_command(spec)
        self.env = {**spec.variables, **runtime_env, "TMPDIR": tmp, "HOME": tmp,
                    "PATH": _path(spec.variables.get("PATH"))}
        self.opt_dir = spec.opt_dir
        if self.opt_dir is not None and not (self.lambda_layout and os.path.isdir("/opt")):
            # No /opt of its own without a mount namespace: the layers' folder is named instead.
            self.env["LAMBDALAB_OPT_ROOT"] = self.opt_dir
            self.env["PATH"] = f"{self.env['PATH']}:{os.path.join(self.opt_dir, 'bin')}"
            self.env["LD_LIBRARY_PATH"] = ":".join(
                p for p in (self.env.get("LD_LIBRARY_PATH"), os.path.join(self.opt_dir, "lib")) if p)
        self.command = command
        self.code_dir = spec.code_dir
        self.proc = None

    def start(self, attach_api=None):
        read_fd, write_fd = os.pipe()
        spec = self.spec
        message = {"op": "spawn", "id": self.sid, "argv": self.command, "env": self.env,
                   "cwd": "/var/task" if self.lambda_layout else self.code_dir, "code_dir": self.code_dir,
                   "opt_dir": self.opt_dir if self.lambda_layout else None,
                   "tmp": self.tmp, "memory_mb": spec.memory_mb, "cpus": spec.cpu_vcpus,
                   "fsize": spec.ephemeral_storage_mb * 1024 * 1024}
        started = time.perf_counter()
        try:
            reply = self.backend.supervisor.spawn(self, message, write_fd)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.proc = _Pid(reply["pid"])
        self.uid = reply["uid"]
        self._peak_file = reply["peak_file"]
        self.logs = LogCollector(read_fd, name=f"logs-{self.proc.pid}")
        if self._peak_file is None:
            threading.Thread(target=self._watch, name=f"watch-{self.proc.pid}", daemon=True).start()
        return started

    def admits(self, sock):
        """Only this environment's own user id may use its Runtime API (where each environment has
        one): another function on the same loopback is refused. Until the supervisor has said which
        id this environment got, ids of this process's other environments are refused."""
        if not self.backend.capabilities["uid_mode"]:
            return True        # one user for everything: nothing to tell them apart by
        peer = _peer_uid(sock)
        if peer is None:
            return False
        if self.uid is not None:
            return peer == self.uid
        others = {s.uid for s in list(_LIVE_SANDBOXES) if s is not self and s.uid is not None}
        return peer not in others and (peer >= SANDBOX_UID_BASE or peer == os.geteuid())

    def on_exit(self, status, oom, peak):
        if self._exited.is_set():
            return
        if peak:
            self._peak = max(self._peak, peak)
        self.oom = self.oom or oom
        self._exited.set()
        self.report_exit(status)

    def _watch(self):
        """Without a memory cgroup: resident memory above the memory size is killed, as the kernel would."""
        limit_kb = self.spec.memory_mb * 1024
        while not self._exited.wait(WATCH_INTERVAL_S):
            rss = _read_status_kb(self.proc.pid, "VmHWM")
            if rss:
                self._peak = max(self._peak, rss * 1024)
                if rss > limit_kb and not self.killed:
                    self.oom = True
                    self.backend.supervisor.kill(self.sid, wait=False)

    def before_invoke(self, timeout_s):
        """RLIMIT_CPU: at most the timeout's worth of CPU seconds more than used so far, a backstop
        to the wall-clock timeout that holds even if the lab itself were stalled.

        Raising a hard limit, or changing another user's, takes CAP_SYS_RESOURCE (root in a
        container often lacks it): then the runtime of the lab's own user gets a soft limit only,
        and one of its own user id none (``isolation`` says so).
        """
        if self._exited.is_set() or not self.backend.cpu_limit:
            return
        try:
            text = self._pread("stat", f"/proc/{self.proc.pid}/stat", 4096)
            fields = text.rsplit(b")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            soft = int(used + timeout_s) + 2
            if soft == self._cpu_soft:
                return     # the limit set before still leaves exactly this invocation's budget
            hard = soft + 1 if self.backend.cpu_limit == "hard" else resource.RLIM_INFINITY
            resource.prlimit(self.proc.pid, resource.RLIMIT_CPU, (soft, hard))
            self._cpu_soft = soft
        except (OSError, ValueError, IndexError):
            pass

    def _pread(self, key, path, size):
        """Read a /proc or cgroup file from its start through a descriptor kept for the sandbox's
        life (such files regenerate their text on a read at offset 0; an open costs 20x a pread)."""
        with self._fds_lock:
            fd = self._fds.get(key)
            if fd is None:
                if self._fds_closed:
                    raise OSError("the sandbox is gone")
                fd = self._fds[key] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(fd, size, 0)

    def _close_fds(self):
        with self._fds_lock:
            self._fds_closed = True
            fds, self._fds = list(self._fds.values()), {}
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def max_memory_bytes(self):
        if self._exited.is_set() or self.proc is None:
            return self._peak or None
        if self._peak_file:
            try:
                self._peak = max(self._peak, int(self._pread("peak", self._peak_file, 32)))
            except (OSError, ValueError):
                pass
        else:
            rss = _read_status_kb(self.proc.pid, "VmHWM")
            if rss:
                self._peak = max(self._peak, rss * 1024)
        return self._peak or None

    def kill(self):
        self.killed = True
        if self.proc is not None:
            self.backend.supervisor.kill(self.sid, wait=False)

    def destroy(self):
        """Kill every process of the environment (returns once they are gone) and remove its folder."""
        self.backend._sandboxes.discard(self)
        self.killed = True
        if self.proc is not None:
            self.backend.supervisor.kill(self.sid, wait=True)
        if self.logs is not None:
            self.logs.close()
        self._close_fds()
        shutil.rmtree(self.folder, ignore_errors=True)


_CAP_SYS_RESOURCE = 24
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _has_capability(number):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> number & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _path(lambda_path):
    """The host's PATH first (the host's Python must be found), then what Lambda's PATH adds."""
    parts = os.environ.get("PATH", "/usr/bin:/bin").split(":")
    for extra in (lambda_path or "").split(":") + ["/opt/bin"]:
        if extra and extra not in parts:
            parts.append(extra)
    return ":".join(parts)


def _compile_bootstrap():
    """Cache the runtime client's compiled code (a package installed by pip has it already)."""
    import py_compile
    source = os.path.join(GUEST_DIR, "bootstrap.py")
    try:
        cached = importlib.util.cache_from_source(source)
        if os.path.exists(cached) and os.stat(cached).st_mtime >= os.stat(source).st_mtime:
            return
        py_compile.compile(source, doraise=True)
        os.chmod(cached, 0o644)      # the sandbox user reads it
    except (OSError, py_compile.PyCompileError):
        pass    # not writable: the runtime compiles it at each start instead


class ProcessBackend:
    """Execution environments as local subprocesses: a weaker, clearly labelled fallback.

    >>> lab = Lab(backend="process"); print(lab.isolation)   # what this machine gives, in words
    """

    name = "process"
    # As root, use root's means (a user id per environment, a memory cgroup, a mount namespace);
    # False runs functions as the lab's own user, as a lab that is not root does.
    root_isolation = True
    process_limit = PROCESS_LIMIT
    runtime_dir = GUEST_DIR
    runtime_api_host = "127.0.0.1"
    runtime_api_address = None     # a server of ours on the loopback, on an ephemeral port
    runtime_version = f"python:{sys.version_info.major}.{sys.version_info.minor}.lambdalab.process"

    def __init__(self, lab_id, workdir):
        self.lab_id = lab_id
        self.workdir = workdir
        self.host_cpus = os.cpu_count() or 1
        self._sandboxes = set()
        self.supervisor = _SupervisorClient(lab_id, workdir, self.root_isolation, self.process_limit)
        _compile_bootstrap()

    @property
    def capabilities(self):
        return self.supervisor.wait_ready()

    @property
    def cpu_limit(self):
        """How the CPU-time backstop is set: "hard", "soft" or None (see ProcessSandbox.before_invoke)."""
        if _has_capability(_CAP_SYS_RESOURCE):
            return "hard"
        return None if self.capabilities["uid_mode"] else "soft"

    @property
    def isolation(self):
        """What isolates one environment here, in words: what this mode has, and what it lacks."""
        caps = self.capabilities
        if caps["uid_mode"]:
            parts = ["process per environment (WEAKER isolation than Docker): a user id of its own (not "
                     "root, no capabilities, no-new-privileges)",
                     f"Lambda's limits of {self.process_limit:,} processes/threads and {OPEN_FILES_LIMIT:,} open files",
                     "every process of the environment killed with it (setsid cannot escape)"]
            if caps["memory_cgroup"]:
                parts.append(f"memory limited by the kernel (cgroup {caps['memory_cgroup']}, no swap)")
            else:
                parts.append("memory watched, not enforced by the kernel")
            parts.append("CPU quota of memory / 1,769 MB of a vCPU" if caps["cpu_cgroup"] else
                         "CPU not scaled with memory")
            if caps["layout"] == "lambda":
                parts.append("mount and IPC namespaces: code read-only in /var/task, " +
                             ("/tmp its own folder, " if caps["private_tmp"] else "") +
                             "no /dev/shm nor other world-writable host folder")
            else:
                parts.append("no mount namespace: the host's folders as that user sees them")
            parts.append("shares the host's other files, network and process list")
        else:
            parts = ["process per environment (WEAKER isolation): runs as your user with your files, "
                     "processes and network",
                     f"about {self.process_limit:,} more processes/threads allowed (a limit shared with your user"
                     + (", not binding root)" if caps["root"] else ")"),
                     "every process of the environment killed with it (a subreaper of its own)",
                     "memory watched, not enforced by the kernel; CPU not scaled with memory"]
        notes = list(caps["notes"])
        if self.cpu_limit is None:
            notes.append("a CPU-time limit per invocation (needs CAP_SYS_RESOURCE)")
        if notes:
            parts.append("not available here: " + ", ".join(notes))
        return "; ".join(parts)

    def runtime_version_arn(self, region):
        return f"arn:aws:lambda:{region}::runtime:lambdalab-process-{sys.version_info.major}{sys.version_info.minor}"

    def task_root(self, code_dir):
        caps = self.capabilities
        return "/var/task" if caps["uid_mode"] and caps["layout"] == "lambda" else code_dir

    def runtime_command(self, spec):
        if spec.runtime_client == "provided":    # a custom runtime: the package's own executable
            return [os.path.join(self.task_root(spec.code_dir), "bootstrap")], {}
        if spec.runtime_client == "node":
            node = shutil.which("node") or shutil.which("nodejs")
            if node is None:
                raise RuntimeError("Node.js functions need `node` on this machine for the process backend "
                                   "(the Docker backend's image has it).")
            return [node, os.path.join(GUEST_DIR, "bootstrap.js")], {}
        if spec.runtime_client == "awslambdaric":
            return [sys.executable, "-m", "awslambdaric", spec.handler], {}
        # As ``python -m bootstrap`` would, with the runtime folder first on sys.path as for a script,
        # and without PYTHONPATH (the function's own variables may set it): run as a module, the
        # client's compiled code is read from its cache, where a script is compiled at every start.
        # ``-S``: the host's site-packages (boto3, as Lambda's runtime has it) are on the path, but
        # their ``.pth`` hooks are not run: those are the lab's own (its editable install, a coverage
        # hook), not the function's, and they cost a third of a cold start.
        return [sys.executable, "-S", "-c", "import runpy, sys; sys.path[0] = " + repr(GUEST_DIR) +
                "; sys.path += " + repr(list(_site_packages())) +
                "; runpy.run_module('bootstrap', run_name='__main__', alter_sys=True)"], {}

    def create_sandbox(self, spec, events, on_death=None):
        sandbox = ProcessSandbox(self, spec, events, on_death)
        self._sandboxes.add(sandbox)
        return sandbox

    def close(self):
        for sandbox in list(self._sandboxes):
            sandbox.destroy()
        self._sandboxes.clear()
        self.supervisor.close()
