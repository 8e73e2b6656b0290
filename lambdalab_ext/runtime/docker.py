"""Docker backend: one container per execution environment, on the local engine (docker SDK).

Isolation by default (DESIGN.md, "Fidelity contract"): the sandbox user (uid 993, like Lambda's
sbx_user1051), a read-only root filesystem except /tmp (a tmpfs of the ephemeral storage size), all
capabilities dropped, no-new-privileges, a pids limit, a memory limit with no swap, a CPU quota of
memory / 1,769 MB of a vCPU (capped at the host's cores). No engine socket inside. The function's
code is mounted read-only at /var/task.

Network: the container has no network at all (``network_mode="none"``: a loopback interface and
nothing else), so a function can reach its own Runtime API and nothing of the host, of other
functions or of other labs. The Runtime API reaches it at 127.0.0.1:9001, Lambda's own address, in
one of two ways (``DockerBackend.api_mode``):

- ``"namespace"`` (the lab runs as root on a local engine): the lab opens the listening socket
  *inside* the container's network namespace and serves it from the host process. Nothing extra
  runs in the container.
- ``"socket"`` (anyone else): the lab listens on a Unix socket of this environment's own, bind-mounted
  into the container, and ``socat`` (in the runtime image) carries 127.0.0.1:9001 to it. A function
  can stop its own socat, and so break only its own Runtime API.

An earlier mode put every container on an internal bridge network with the Runtime API on the
host's end of it: another function, even of another lab, could reach that address, park a
``GET /next`` there and answer in the victim's place. No mode offers a reachable address now.

The runtime process waits on a pipe until the Runtime API is ready, so Init Duration counts from the
moment it is released, not the time the engine took to create and start the container (Lambda's
sandbox provisioning, which its Init Duration does not include either).

Every container and network carries the labels ``lambdalab=1``, ``lambdalab.lab``, ``lambdalab.pid``
and ``lambdalab.host``, so that a later ``Lab()`` can reap what a dead kernel left behind.
"""

import concurrent.futures
import ctypes
import os
import shutil
import socket
import threading
import time

from .. import limits
from .logs import LogCollector
from .sandbox import Sandbox

LABEL = "lambdalab"
GUEST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest")
LOG_PATH_IN_SANDBOX = "/run/lambdalab-log"
GO_PATH_IN_SANDBOX = "/run/lambdalab-go"
API_SOCKET_IN_SANDBOX = "/run/lambdalab-api.sock"
RUNTIME_API_PORT = 9001           # where Lambda's runtimes find the Runtime API: 127.0.0.1:9001
CLONE_NEWNET = 0x40000000
API_MODES = ("auto", "namespace", "socket")


def _setns_net(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _in_thread(fn):
    """Run ``fn`` in a throwaway thread: setns changes the namespace of the calling thread only."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as exc:   # handed back to the caller below
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def listen_in_netns(pid, ports):
    """TCP sockets listening on 127.0.0.1 at each of ``ports`` inside the network namespace of
    process ``pid``, in that order (one namespace entry for all)."""
    def work():
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            _setns_net(fd)
        finally:
            os.close(fd)
        socks = []
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
            socks.append(sock)
        return socks
    return _in_thread(work)


def _unix_listener(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)   # the sandbox user connects to it
    sock.listen(16)
    return sock


def _forwarder(port, path):
    """The shell line that starts socat carrying 127.0.0.1:``port`` to the Unix socket ``path`` and
    waits until it listens (``0100007F:PORT ... 0A`` is 127.0.0.1:PORT in LISTEN in /proc/net/tcp)."""
    return (f"socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:{path} "
            f"</dev/null >/dev/null 2>&1 & "
            f"until grep -q ' 0100007F:{port:04X} 00000000:0000 0A' /proc/net/tcp; do :; done; ")


def can_enter_namespaces(client):
    """True when this process may enter a container's network namespace (root, local engine)."""
    from docker.transport import UnixHTTPAdapter
    if not isinstance(getattr(client.api, "_custom_adapter", None), UnixHTTPAdapter):
        return False    # an engine reached over the network: its containers' processes are not ours to see
    if os.geteuid() != 0 or not os.path.exists("/proc/self/ns/net"):
        return False

    def probe():
        fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            _setns_net(fd)
        finally:
            os.close(fd)
        return True
    try:
        return _in_thread(probe)
    except (OSError, AttributeError):
        return False


def docker_client(timeout=60):
    """A client of the local engine, or None when no engine answers."""
    try:
        import docker
    except ImportError:
        return None
    try:
        client = docker.from_env(timeout=timeout, max_pool_size=64)
        client.ping()
        return client
    except Exception:
        return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _labelled(client, kind, label_filter):
    """(id, labels) of the containers or networks carrying a label, without inspecting each.

    The SDK's ``containers.list()`` lists and then inspects one by one, so a container that
    another lab removes in between raises ``NotFound``: a classroom has many kernels on one
    engine, and every list-then-act here must tolerate that.
    """
    import docker.errors
    try:
        if kind == "container":
            rows = client.api.containers(all=True, filters={"label": label_filter})
            return [(row["Id"], row.get("Labels") or {}) for row in rows]
        rows = client.api.networks(filters={"label": label_filter})
        return [(row["Id"], row.get("Labels") or {}) for row in rows]
    except docker.errors.NotFound:
        return []


def _remove(client, kind, object_id):
    """Remove a container (forcibly) or a network; one already gone counts as removed."""
    import docker.errors
    try:
        if kind == "container":
            client.api.remove_container(object_id, force=True)
        else:
            client.api.remove_network(object_id)
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        # 409 "removal already in progress": another lab is removing it right now.
        if exc.status_code == 409:
            return False
        raise


def reap_orphans(client, keep_lab=None):
    """Remove lambdalab containers and networks whose owning process on this host has died.

    Returns the number of objects removed. Safe while other labs on the same engine create and
    remove their own: nothing of a live lab is touched, and objects that vanish are skipped.
    """
    host = socket.gethostname()
    removed = 0

    def orphaned(labels):
        if labels.get(f"{LABEL}.lab") == keep_lab:
            return False
        if labels.get(f"{LABEL}.host") != host:
            return False
        try:
            return not _pid_alive(int(labels.get(f"{LABEL}.pid", "0")))
        except ValueError:
            return True

    for kind in ("container", "network"):
        for object_id, labels in _labelled(client, kind, f"{LABEL}.lab"):
            if orphaned(labels):
                try:
                    removed += _remove(client, kind, object_id)
                except Exception:
                    pass
    return removed


class DockerSandbox(Sandbox):
    """One container running one runtime process."""

    def __init__(self, backend, spec, events, on_death=None):
        from docker.types import Mount, Ulimit
        super().__init__(backend, spec, events, on_death)
        self._memory_bytes = 0
        self._memory_path = None
        self._memory_fd = None          # the peak-memory file, open while the sandbox exists
        self._memory_lock = threading.Lock()
        self._removed = False
        os.makedirs(self.folder, mode=0o755)
        fifo = os.path.join(self.folder, "log")
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)   # the sandbox user must be able to write it
        go = os.path.join(self.folder, "go")
        os.mkfifo(go)
        os.chmod(go, 0o666)
        # O_RDWR keeps a writer open on our side, so the reader never sees EOF between writers.
        self.logs = LogCollector(os.open(fifo, os.O_RDWR | os.O_NONBLOCK), name=f"logs-{spec.environment_id}")
        self._go = os.open(go, os.O_RDWR)
        mounts = [Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts
                  if not (spec.image and m.target == "/var/task")]    # an image brings its own code
        mounts += [
            Mount("/var/runtime", backend.guest_dir, type="bind", read_only=True),
            Mount(LOG_PATH_IN_SANDBOX, fifo, type="bind"),
            Mount(GO_PATH_IN_SANDBOX, go, type="bind", read_only=True),
        ]
        # The shell waits for the go signal (the Runtime API is ready), points stdout and stderr
        # at the log pipe, then becomes the runtime.
        script = f'read go <{GO_PATH_IN_SANDBOX}; exec "$@" >{LOG_PATH_IN_SANDBOX} 2>&1'
        # The lab's endpoints (the embedded AWS) the environment reaches at 127.0.0.1:PORT: in the
        # socket mode, each through a Unix socket of its own and socat, like the Runtime API.
        self._api_socket = None
        self._endpoint_sockets = {}     # port -> listening socket made before the start
        self._relayed = []              # the relay's handles, closed with the sandbox
        if backend.api_mode == "socket":
            forwards = [(RUNTIME_API_PORT, "api")] + [(port, name) for port, (name, _) in spec.endpoints.items()]
            script_head = ""
            for port, name in forwards:
                host_path = os.path.join(self.folder, f"{name}.sock")
                sandbox_path = f"/run/lambdalab-{name}.sock"
                sock = _unix_listener(host_path)
                if port == RUNTIME_API_PORT:
                    self._api_socket = sock
                else:
                    self._endpoint_sockets[port] = sock
                mounts.append(Mount(sandbox_path, host_path, type="bind"))
                script_head += _forwarder(port, sandbox_path)
            # The runtime is released only once every forwarder listens: the wait is not INIT.
            script = script_head + script
        command, runtime_env = backend.runtime_command(spec)
        env_vars = {**spec.variables, **runtime_env}
        memory = f"{spec.memory_mb}m"
        # An image function's own ENTRYPOINT is not the runtime: the lab's runtime client is.
        start = {"entrypoint": ["/bin/sh", "-c", script, "sh"], "command": list(command)} if spec.image \
            else {"command": ["/bin/sh", "-c", script, "sh", *command]}
        self.container = backend.client.containers.create(
            spec.image or backend.image,
            **start,
            user=f"{backend.uid}:{backend.gid}",
            environment=env_vars,
            labels=backend.labels(function=spec.function_name, environment=spec.environment_id),
            working_dir="/var/task",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={spec.ephemeral_storage_mb}m,mode=1777"},
            mounts=mounts,
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=int(spec.cpu_vcpus * 1e9),
            pids_limit=limits.PIDS_LIMIT,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ulimits=[Ulimit(name="nofile", soft=limits.FILE_DESCRIPTORS, hard=limits.FILE_DESCRIPTORS)],
            # Lambda has no /dev/shm (so multiprocessing's queues and pools fail there, as here):
            # a private IPC namespace with nothing mounted, instead of Docker's 64 MB tmpfs that
            # no ephemeral-storage limit would count.
            ipc_mode="none",
            network_mode="none",
            init=True,
            stdin_open=False,
            log_config={"type": "none"},
        )
        backend.register(self)

    def start(self, attach_api):
        """Start the container, open its Runtime API, release the runtime.

        Returns the moment of release on the ``perf_counter`` clock: where INIT begins.
        """
        if self._api_socket is not None:
            sock, self._api_socket = self._api_socket, None
            attach_api(sock)
        self.container.start()
        endpoint_sockets, self._endpoint_sockets = self._endpoint_sockets, {}
        if self.backend.api_mode == "namespace":
            pid = self.backend.client.api.inspect_container(self.container.id)["State"]["Pid"]
            ports = list(self.spec.endpoints)
            api_sock, *others = listen_in_netns(pid, [RUNTIME_API_PORT] + ports)
            attach_api(api_sock)
            endpoint_sockets = dict(zip(ports, others))
        for port, sock in endpoint_sockets.items():
            name, connect = self.spec.endpoints[port]
            self._relayed.append(self.backend.relay.listen(sock, connect, name=name))
        released = time.perf_counter()
        os.write(self._go, b"go\n")
        return released

    def _find_memory_path(self):
        cid = self.container.id
        for path in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes",       # v1, cgroupfs
                     f"/sys/fs/cgroup/memory/system.slice/docker-{cid}.scope/memory.max_usage_in_bytes",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.peak",          # v2, systemd
                     f"/sys/fs/cgroup/docker/{cid}/memory.peak"):                            # v2, cgroupfs
            if os.path.exists(path):
                return path
        return ""

    def max_memory_bytes(self):
        """The container's peak memory since it started: the cgroup's own high-water mark."""
        if self._memory_path is None:
            self._memory_path = self._find_memory_path()
        value = None
        if self._memory_path:
            try:
                # One descriptor for the sandbox's life, read from its start each time: a cgroup
                # file regenerates its text on a read at offset 0 (an open costs 20x a pread).
                with self._memory_lock:
                    if self._memory_fd is None and not self._removed:
                        self._memory_fd = os.open(self._memory_path, os.O_RDONLY | os.O_CLOEXEC)
                    if self._memory_fd is not None:
                        value = int(os.pread(self._memory_fd, 32, 0))
            except (OSError, ValueError):
                value = None
        if value is None:
            try:   # an engine on another machine (or a cgroup path we do not know): ask the engine
                stats = self.backend.client.api.stats(self.container.id, stream=False, one_shot=True)
                value = stats.get("memory_stats", {}).get("max_usage")
            except Exception:
                value = None
        if value:
            self._memory_bytes = max(self._memory_bytes, value)
        return self._memory_bytes or None

    def on_exit(self, exit_code, oom):
        self.oom = self.oom or oom
        if not self.killed:
            self.report_exit(exit_code)

    def kill(self):
        self.killed = True
        try:
            self.container.kill()
        except Exception:
            pass

    def destroy(self):
        self.killed = True
        self.backend.unregister(self)
        self.backend.in_background(self._remove)

    def _remove(self):
        try:
            self.container.remove(force=True)
        except Exception:
            pass
        with self._memory_lock:
            self._removed = True
            fd, self._memory_fd = self._memory_fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        self.logs.close()
        try:
            os.close(self._go)
        except OSError:
            pass
        for listener in self._relayed:
            self.backend.relay.close_listener(listener)
        for sock in [self._api_socket, *self._endpoint_sockets.values()]:   # made, never started
            if sock is not None:
                sock.close()
        for name in os.listdir(self.folder) if os.path.isdir(self.folder) else ():
            try:
                os.unlink(os.path.join(self.folder, name))
            except OSError:
                pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


class DockerBackend:
    """Execution environments as containers on the local Docker engine."""

    name = "docker"
    base_isolation = ("Docker container per environment: non-root sandbox user, read-only root filesystem, "
                      "/tmp tmpfs sized to ephemeral storage, all capabilities dropped, no-new-privileges, "
                      "pids limit, memory limit without swap, CPU quota from memory")

    runtime_dir = "/var/runtime"
    runtime_api_address = f"127.0.0.1:{RUNTIME_API_PORT}"   # in every mode, as on Lambda
    runtime_api_host = None

    @property
    def isolation(self):
        how = {"namespace": "served by the lab inside the container's own network namespace",
               "socket": "carried by socat to a Unix socket of the environment's own"}[self.api_mode]
        return (self.base_isolation + ", no /dev/shm, no network at all: the function reaches its own "
                f"Runtime API at 127.0.0.1:9001 ({how}) and nothing else")

    def __init__(self, lab_id, workdir, client=None, image=None, progress=None, network_mode="auto",
                 endpoints=None):
        """``network_mode`` picks how the Runtime API reaches the container (see the module's
        docstring): ``"auto"`` (``"namespace"`` where the lab may enter the container's network
        namespace, else ``"socket"``), ``"namespace"`` or ``"socket"``.

        ``endpoints`` maps a port the function reaches at 127.0.0.1 to ``(name, connect)``, where
        ``connect()`` returns a socket connected to the lab's endpoint behind it (the embedded AWS):
        the relay carries the bytes, and nothing else is reachable."""
        if network_mode not in API_MODES:
            raise ValueError(f"docker network mode must be one of {API_MODES}, got {network_mode!r}")
        from . import image as image_module
        self.client = client or docker_client()
        if self.client is None:
            raise RuntimeError("No Docker engine answers: start Docker, or use Lab(backend='process').")
        self.lab_id = lab_id
        self.workdir = workdir
        self.image = image or image_module.ensure_runtime_image(self.client, progress=progress)
        self.uid, self.gid = image_module.LAMBDA_UID, image_module.LAMBDA_GID
        self._python = image_module.RUNTIME_PYTHON
        self._packages = image_module.PACKAGES_PATH
        image_obj = self.client.images.get(self.image)
        self._image_id = image_obj.id.split(":")[-1]
        self.runtime_version = f"python:3.11.lambdalab.{self._image_id[:8]}"
        self.host_cpus = int(self.client.info().get("NCPU") or os.cpu_count() or 1)
        self._sandboxes = {}
        self._sandboxes_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambdalab-reap")
        self._pending = set()
        if network_mode == "auto":
            network_mode = "namespace" if can_enter_namespaces(self.client) else "socket"
        self.api_mode = network_mode
        self.endpoints = dict(endpoints or {})
        self._relay = None
        # The guest runtime client is mounted from a copy in the lab's folder, not from this
        # checkout, so /proc/self/mountinfo inside shows no host path of the user's.
        self.guest_dir = os.path.join(workdir, "runtime")
        shutil.copytree(GUEST_DIR, self.guest_dir, ignore=shutil.ignore_patterns("__pycache__"),
                        dirs_exist_ok=True)
        self._events = self.client.events(decode=True, filters={"type": "container", "event": ["die", "oom"],
                                                                "label": f"{LABEL}.lab={lab_id}"})
        self._watcher = threading.Thread(target=self._watch, name="lambdalab-docker-events", daemon=True)
        self._watcher.start()

    @property
    def relay(self):
        if self._relay is None:
            from .relay import Relay
            self._relay = Relay(name=f"lambdalab-relay-{self.lab_id}")
        return self._relay

    def labels(self, **extra):
        labels = {LABEL: "1", f"{LABEL}.lab": self.lab_id, f"{LABEL}.pid": str(os.getpid()),
                  f"{LABEL}.host": socket.gethostname()}
        labels.update({f"{LABEL}.{k}": v for k, v in extra.items()})
        return labels

    def runtime_version_arn(self, region):
        return f"arn:aws:lambda:{region}::runtime:{self._image_id}"

    def task_root(self, code_dir):
        return "/var/task"

    def runtime_command(self, spec):
        """The runtime process and the variables it needs: lambdalab's client or AWS's awslambdaric."""
        if spec.runtime_client == "provided":
            return ["/var/task/bootstrap"], {}      # a custom runtime: the package's own executable
        if spec.runtime_client == "node":
            return ["/usr/bin/node", f"{self.runtime_dir}/bootstrap.js"], {}
        if spec.runtime_client == "awslambdaric":
            # Its layers on the path as Lambda's Python runtime puts them (lambdalab's client adds them itself).
            layers = ":/opt/python/lib/python3.11/site-packages:/opt/python" if spec.opt_dir else ""
            return ([self._python, "-m", "awslambdaric", spec.handler],
                    {"PYTHONPATH": f"{self.runtime_dir}:{self._packages}{layers}"})
        return ([self._python, f"{self.runtime_dir}/bootstrap.py"],
                {"PYTHONPATH": f"{self.runtime_dir}:{self._packages}"})

    def create_sandbox(self, spec, events, on_death=None):
        return DockerSandbox(self, spec, events, on_death)

    # -- container exits -----------------------------------------------------------------------
    def register(self, sandbox):
        with self._sandboxes_lock:
            self._sandboxes[sandbox.container.id] = sandbox

    def unregister(self, sandbox):
        with self._sandboxes_lock:
            self._sandboxes.pop(sandbox.container.id, None)

    def _watch(self):
        try:
            for event in self._events:
                cid = event.get("id") or event.get("Actor", {}).get("ID")
                with self._sandboxes_lock:
                    sandbox = self._sandboxes.get(cid)
                if sandbox is None:
                    continue
                if event.get("status") == "oom" or event.get("Action") == "oom":
                    sandbox.oom = True
                elif event.get("status") == "die" or event.get("Action") == "die":
                    attributes = event.get("Actor", {}).get("Attributes", {})
                    code = int(attributes.get("exitCode", -1))
                    oom = sandbox.oom
                    if not oom and code == 137 and not sandbox.killed:
                        try:
                            oom = bool(sandbox.container.client.api.inspect_container(cid)["State"]["OOMKilled"])
                        except Exception:
                            pass
                    sandbox.on_exit(code, oom)
        except Exception:
            pass   # the stream closes when the backend does

    # -- housekeeping --------------------------------------------------------------------------
    def in_background(self, fn):
        future = self._pool.submit(fn)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def close(self):
        """Remove every container of this lab; waits for removals to finish."""
        with self._sandboxes_lock:
            sandboxes = list(self._sandboxes.values())
        for sandbox in sandboxes:
            sandbox.destroy()
        concurrent.futures.wait(list(self._pending), timeout=60)
        self._pool.shutdown(wait=True)
        try:
            self._events.close()
        except Exception:
            pass
        if self._relay is not None:
            self._relay.close()
        for object_id, _ in _labelled(self.client, "container", f"{LABEL}.lab={self.lab_id}"):
            try:
                _remove(self.client, "container", object_id)
            except Exception:
                pass
