"""The process fallback: weaker than Docker, but it holds against a hostile function, and says what it has.

Real subprocesses through a real ``Lab``. This machine runs the tests as root, where each
environment gets a user id of its own; ``ProcessBackend.root_isolation = False`` gives what a lab
that is not root gets (the function runs as the lab's user), and is tested too.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from lambdalab_ext.runtime import process
from lambdalab_ext.runtime.process import ProcessBackend

ROOT = os.geteuid() == 0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A child that leaves the session (setsid) and then forks again, so that neither its process group
# nor its parent ties it to the runtime: the daemon a hostile function would leave behind. It beats
# a heartbeat into /tmp; the invocation returns its pid and start time (which name it for good).
DAEMON = textwrap.dedent("""
    import os, tempfile, time
    def handler(event, context):
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open("/proc/self/stat") as f:
                    started = f.read().rsplit(")", 1)[1].split()[19]
                os.write(w, f"{os.getpid()} {started}".encode())
                beat = 0
                while True:
                    beat += 1
                    with open(os.path.join(tempfile.gettempdir(), "heartbeat"), "w") as f:
                        f.write(str(beat))
                    time.sleep(0.02)
            os._exit(0)
        os.close(w)
        pid, started = os.read(r, 64).decode().split()
        return {"pid": int(pid), "started": started, "uid": os.getuid()}
""")

WHO = textwrap.dedent("""
    import os, tempfile
    def handler(event, context):
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        with open(os.path.join(tempfile.gettempdir(), "secret"), "w") as f:
            f.write("mine")
        out = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
               "cap_eff": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
               "pid": os.getpid(), "tmp": tempfile.gettempdir(), "root": os.environ["LAMBDA_TASK_ROOT"],
               "cwd": os.getcwd(), "shm": os.access("/dev/shm", os.W_OK)}
        for folder in ("/run/lock", "/var/tmp"):     # world-writable on the host: what is left there stays
            try:
                open(os.path.join(folder, "left-behind"), "w").close()
                out[folder] = "written"
            except OSError as exc:
                out[folder] = type(exc).__name__
        attempts = {}
        for name, try_it in [
                ("read_tmp", lambda: open(event["other_tmp"] + "/secret").read()),
                ("read_environ", lambda: open(f"/proc/{event['other_pid']}/environ").read()),
                ("signal", lambda: os.kill(event["other_pid"], 0))] if event else []:
            try:
                try_it()
                attempts[name] = "allowed"
            except OSError as exc:
                attempts[name] = type(exc).__name__
        out["attempts"] = attempts
        return out
""")


def _alive(pid, started):
    """Whether that very process still runs (a zombie has finished: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[19] == started and fields[0] != "Z"


def _wait_until(done, limit_s=20.0):
    """For what another process does in its own time (here, a supervisor noticing a death)."""
    deadline = time.monotonic() + limit_s
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    return done()


def _wait_until_dead(pid, started):
    return _wait_until(lambda: not _alive(pid, started))


def _sandbox(lab, name):
    return lab.service.get(name).idle[-1]._sandbox


def _claimed(uid):
    return any(os.path.exists(os.path.join(d, str(uid)))
               for d in ("/run/lambdalab-sandbox-uids", "/tmp/lambdalab-sandbox-uids"))


@pytest.fixture
def process_lab(make_lab):
    return make_lab("process")


@pytest.fixture
def user_lab(make_lab, monkeypatch):
    """What a lab that is not root gets, even where the tests run as root."""
    monkeypatch.setattr(ProcessBackend, "root_isolation", False)
    return make_lab("process")


def test_it_says_what_it_has(process_lab, user_lab):
    assert process_lab.backend.name == "process"
    assert "WEAKER" in process_lab.isolation and "WEAKER" in user_lab.isolation
    if ROOT:
        text = process_lab.isolation
        assert "a user id of its own (not root" in text
        assert "1,024 processes/threads" in text and "1,024 open files" in text
        assert "setsid cannot escape" in text
        assert "memory limited by the kernel (cgroup v" in text
        assert "/var/task" in text and "no /dev/shm nor other world-writable host folder" in text
        assert "network and process list" in text     # what it lacks, too
    assert "runs as your user" in user_lab.isolation
    assert "memory watched, not enforced by the kernel" in user_lab.isolation


def test_limits_and_own_tmp(process_lab):
    source = textwrap.dedent("""
        import os, tempfile
        def handler(event, context):
            limits = {}
            for line in open("/proc/self/limits"):
                for name in ("Max cpu time", "Max file size", "Max open files", "Max processes"):
                    if line.startswith(name):
                        limits[name] = line[len(name):].split()[:2]
            path = os.path.join(tempfile.gettempdir(), "mine")
            seen = os.path.exists(path)
            open(path, "w").close()
            return {"limits": limits, "tmp": tempfile.gettempdir(), "root": os.environ["LAMBDA_TASK_ROOT"],
                    "seen": seen, "path": os.environ["PATH"]}
    """)
    fn = process_lab.deploy("limits", source, memory_mb=256, timeout_s=5, ephemeral_storage_mb=600)
    p = fn.invoke({}).payload
    cpu = process_lab.backend.cpu_limit
    if cpu is None:     # the lab lacks CAP_SYS_RESOURCE, and the runtime is another user: it says so
        assert p["limits"]["Max cpu time"] == ["unlimited", "unlimited"]
        assert "CPU-time limit per invocation (needs CAP_SYS_RESOURCE)" in process_lab.isolation
    else:
        soft, hard = p["limits"]["Max cpu time"]
        assert 5 <= int(soft) <= 10        # the timeout's worth of CPU time, and a little
        assert hard == (str(int(soft) + 1) if cpu == "hard" else "unlimited")
    assert p["limits"]["Max file size"] == [str(600 * 1024 * 1024)] * 2
    assert p["limits"]["Max open files"] == ["1024", "1024"]
    if ROOT:
        assert p["limits"]["Max processes"] == ["1024", "1024"]
        assert p["root"] == "/var/task"                           # Lambda's layout, in a mount namespace
        if process_lab.backend.capabilities["private_tmp"]:
            assert p["tmp"] == "/tmp"
        else:   # the interpreter itself lives under /tmp (a checkout there): /tmp cannot be covered
            assert p["tmp"].startswith(process_lab.workdir) and "/tmp its own folder" not in process_lab.isolation
    else:
        assert p["tmp"].startswith(process_lab.workdir) and p["root"].startswith(process_lab.workdir)
    # The host's PATH first (its Python must be found), then Lambda's /opt/bin for layers.
    assert p["path"].startswith(os.environ["PATH"]) and p["path"].endswith(":/opt/bin")
    other = process_lab.deploy("other", source, memory_mb=256).invoke({}).payload
    assert other["seen"] is False and fn.invoke({}).payload["seen"] is True   # each has its own /tmp


def test_ld_library_path_is_kept(process_lab):
    source = "import os\ndef handler(event, context):\n    return os.environ.get('LD_LIBRARY_PATH')\n"
    fn = process_lab.deploy("ld", source, env={"LD_LIBRARY_PATH": "/opt/lib:/opt/mine"})
    assert fn.invoke({}).payload == "/opt/lib:/opt/mine"


@pytest.mark.skipif(not ROOT, reason="as a user, the function runs as that user (test_user_mode_runs_as_the_lab)")
def test_runs_as_an_unprivileged_user_of_its_own(process_lab):
    a = process_lab.deploy("a", WHO, memory_mb=256)
    first = a.invoke(None).payload
    assert first["uid"] == first["euid"] == first["gid"] != 0
    assert process.SANDBOX_UID_BASE <= first["uid"] < process.SANDBOX_UID_BASE + process.SANDBOX_UID_COUNT
    assert first["groups"] == [] and int(first["cap_eff"], 16) == 0 and first["no_new_privs"] == "1"
    assert first["shm"] is False and first["cwd"] == "/var/task"
    assert "written" not in (first["/run/lock"], first["/var/tmp"])
    victim = _sandbox(process_lab, "a")
    b = process_lab.deploy("b", WHO, memory_mb=256)
    second = b.invoke({"other_tmp": victim.tmp, "other_pid": victim.proc.pid}).payload
    assert second["uid"] != first["uid"]
    # Another function's /tmp, its variables (credentials) and its processes are out of reach.
    assert second["attempts"]["read_tmp"] in ("FileNotFoundError", "PermissionError")
    assert second["attempts"]["read_environ"] == "PermissionError"
    assert second["attempts"]["signal"] == "PermissionError"
    with open(os.path.join(victim.tmp, "secret")) as f:
        assert f.read() == "mine"             # the file the attempt aimed at is there
    assert process.SANDBOX_UID_BASE <= os.stat(victim.tmp).st_uid != 0


def test_user_mode_runs_as_the_lab(user_lab):
    p = user_lab.deploy("who", WHO).invoke(None).payload
    assert p["uid"] == os.getuid()
    assert p["tmp"].startswith(user_lab.workdir)


@pytest.mark.parametrize("mode", ["root", "user"])
def test_a_setsid_daemon_dies_with_the_lab(make_lab, monkeypatch, mode):
    if mode == "user":
        monkeypatch.setattr(ProcessBackend, "root_isolation", False)
    lab = make_lab("process")
    fn = lab.deploy("daemon", DAEMON, timeout_s=10)
    p = fn.invoke({}).payload
    heartbeat = os.path.join(_sandbox(lab, "daemon").tmp, "heartbeat")
    deadline = time.monotonic() + 10
    beats = []
    while len(set(beats)) < 2 and time.monotonic() < deadline:   # it runs after the invocation ended
        if os.path.exists(heartbeat):
            with open(heartbeat) as f:
                beats.append(f.read())
        time.sleep(0.05)
    assert len(set(beats)) >= 2 and _alive(p["pid"], p["started"])
    lab.shutdown()
    assert not _alive(p["pid"], p["started"])            # gone when shutdown() returns
    if mode == "root":
        assert not _claimed(p["uid"])                    # and its user id is free again


def test_a_runtime_that_exits_takes_its_daemon(process_lab):
    source = DAEMON + textwrap.dedent("""
        first = handler
        def handler(event, context):
            if event.get("exit"):
                os._exit(3)
            return first(event, context)
    """)
    fn = process_lab.deploy("quitter", source, timeout_s=10)
    p = fn.invoke({}).payload
    assert _alive(p["pid"], p["started"])
    r = fn.invoke({"exit": True})
    assert r.error["errorType"] == "Runtime.ExitError"
    # The environment is discarded with all it ran (after the result: stopping is not waited for).
    assert _wait_until_dead(p["pid"], p["started"])


LAB_SCRIPT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {repo!r})
    from lambdalab_ext import Lab
    lab = Lab(backend="process")
    fn = lab.deploy("daemon", {source!r}, timeout_s=10)
    print(json.dumps({{"daemon": fn.invoke({{}}).payload, "supervisor": lab.backend.supervisor.proc.pid}}), flush=True)
    time.sleep(120)
""")


def _lab_in_a_kernel():
    """A lab in a process of its own, like a Jupyter kernel; returns it and what its function started."""
    kernel = subprocess.Popen([sys.executable, "-c", LAB_SCRIPT.format(repo=REPO, source=DAEMON)],
                              stdout=subprocess.PIPE, text=True)
    line = kernel.stdout.readline()
    assert line, "the lab in the kernel did not start"
    return kernel, json.loads(line)


@pytest.mark.slow
def test_a_killed_kernel_takes_its_daemons(make_lab):
    kernel, state = _lab_in_a_kernel()
    daemon = state["daemon"]
    try:
        assert _alive(daemon["pid"], daemon["started"])
        kernel.kill()        # SIGKILL: no atexit, no finalizer, no shutdown()
        kernel.wait()
        # The supervisor sees the lab's end of its socket close, and kills the environments.
        assert _wait_until_dead(daemon["pid"], daemon["started"])
    finally:
        kernel.kill()
        kernel.wait()
        kernel.stdout.close()
        make_lab("process")   # the next Lab() removes the dead lab's folder
    if ROOT:
        assert _wait_until(lambda: not _claimed(daemon["uid"]))   # then the supervisor frees its user id


@pytest.mark.slow
@pytest.mark.skipif(not ROOT, reason="as a user, what outlives a killed supervisor cannot be told apart")
@pytest.mark.parametrize("reaper", ["process lab", "reap_orphans"])
def test_the_next_lab_reaps_what_a_killed_supervisor_left(make_lab, reaper):
    kernel, state = _lab_in_a_kernel()
    daemon = state["daemon"]
    try:
        os.kill(state["supervisor"], signal.SIGKILL)
        # The runtime dies with its supervisor; the daemon, out of its session, does not.
        assert _alive(daemon["pid"], daemon["started"])
        kernel.kill()
        kernel.wait()
        if reaper == "process lab":
            lab = make_lab("process")
            assert lab.isolation      # the new supervisor is up: it reaps stale user ids before anything
        else:
            process.reap_orphans()    # what a Lab() on another backend calls
        assert _wait_until_dead(daemon["pid"], daemon["started"])
        assert _wait_until(lambda: not _claimed(daemon["uid"]))
    finally:
        kernel.kill()
        kernel.wait()
        kernel.stdout.close()
        if reaper == "reap_orphans":
            make_lab("process")   # the next Lab() removes the dead lab's folder


@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC counts the user's own processes: the suite must not fork-bomb it")
def test_a_fork_bomb_is_held_to_lambdas_process_limit(process_lab):
    # Sleeping children, so that even a limit that failed would cost the machine idle processes
    # only, and at most 3,000 of them.
    source = textwrap.dedent("""
        import os, time
        def handler(event, context):
            made, error = 0, None
            for _ in range(3000):
                try:
                    pid = os.fork()
                except OSError as exc:
                    error = type(exc).__name__
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                made += 1
            return {"made": made, "error": error}
    """)
    neighbour = process_lab.deploy("neighbour", "def handler(event, context):\n    return 'here'\n")
    assert neighbour.invoke({}).payload == "here"
    bomb = process_lab.deploy("bomb", source, memory_mb=2048, timeout_s=30)
    r = bomb.invoke({})
    assert r.payload == {"made": process.PROCESS_LIMIT - 1, "error": "BlockingIOError"}   # EAGAIN, as on Lambda
    # Its 1,023 processes still run; a neighbour starts, and answers, all the same.
    assert neighbour.invoke({}).payload == "here"
    process_lab.deploy("newcomer", "def handler(event, context):\n    return 'new'\n")
    assert process_lab.invoke("newcomer", {}).payload == "new"


@pytest.mark.slow
@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC counts the user's own processes: the suite must not fork-bomb it")
def test_a_spinning_fork_bomb_times_out_and_the_lab_holds(process_lab):
    source = textwrap.dedent("""
        import os
        def handler(event, context):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """)
    neighbour = process_lab.deploy("neighbour", "def handler(event, context):\n    return 'here'\n")
    r = process_lab.deploy("bomb", source, memory_mb=1024, timeout_s=2).invoke({})
    assert r.error["errorType"] == "Sandbox.Timedout"
    assert neighbour.invoke({}).payload == "here"


HOG = textwrap.dedent("""
    def handler(event, context):
        if event.get("at_once"):
            return len(bytearray(2 * 1024 ** 3))    # one allocation far beyond the memory size
        hog = []
        while True:
            hog.append(bytearray(8 * 1024 * 1024))
""")


@pytest.mark.parametrize("at_once", [False, True])
def test_memory_over_the_limit_is_out_of_memory(process_lab, at_once):
    # 512 MB: at 128 MB the CPU share (0.07 vCPU) makes the same blow-up take seconds.
    r = process_lab.deploy("hog", HOG, memory_mb=512, timeout_s=60).invoke({"at_once": at_once})
    assert r.error["errorType"] == "Runtime.OutOfMemory"     # not a MemoryError inside the function
    assert r.error["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert r.max_memory_used_mb == 512


@pytest.mark.parametrize("at_once", [False, True])
def test_memory_over_the_limit_is_out_of_memory_as_a_user(user_lab, at_once):
    # Without a memory cgroup the watcher kills; the address-space limit is only a backstop far
    # above the memory size, so the watcher wins.
    r = user_lab.deploy("hog", HOG, memory_mb=128, timeout_s=60).invoke({"at_once": at_once})
    assert r.error["errorType"] == "Runtime.OutOfMemory"
    assert r.max_memory_used_mb == 128


def test_a_function_cannot_take_another_environments_events(make_lab):
    """On the shared loopback every environment's Runtime API is a TCP port: a function that finds
    another's port and parks GET /next there is refused (it is not that environment's user)."""
    import textwrap
    import threading
    import time
    lab = make_lab("process")
    if "a user id of its own" not in lab.isolation:
        pytest.skip("only a lab running as root gives each environment its own user id (CI is root)")
    victim = lab.deploy("victim", "def handler(event, context):\n    return {'who': 'victim', 'event': event}\n")
    victim.invoke({"n": -1})
    attacker = lab.deploy("attacker", textwrap.dedent("""
        import socket, time
        def handler(event, context):
            parked = []
            for port in event["ports"]:          # park GET /next there, as the attack did
                s = socket.socket()
                s.settimeout(8)
                try:
                    s.connect(("127.0.0.1", port))
                    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                    parked.append(s)
                except OSError:
                    s.close()
            stolen, answered = [], 0
            for s in parked:
                try:
                    data = s.recv(65536)
                    answered += bool(data)        # an answer of any kind, even an error
                    if b"Lambda-Runtime-Aws-Request-Id" in data:
                        stolen.append(data.decode("latin-1")[:300])
                except OSError:
                    pass
                s.close()
            return {"stolen": stolen, "answered": answered}
    """), timeout_s=30)
    env, = lab.service.get("victim").idle
    api = env._api
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(r=attacker.invoke({"ports": [int(api.address.rsplit(":", 1)[1])] * 3})))
    thread.start()
    deadline = time.monotonic() + 20      # until the attack has reached the victim's API
    while time.monotonic() < deadline and not (api.refused or len(api._connections) > 1):
        time.sleep(0.02)
    answers = [victim.invoke({"n": i}).payload for i in range(5)]
    thread.join()
    assert answers == [{"who": "victim", "event": {"n": i}} for i in range(5)]
    assert api.refused >= 1
    assert outcome["r"].payload == {"stolen": [], "answered": 0}


def test_the_runtime_sees_the_hosts_packages_but_not_the_labs_own_hooks(process_lab):
    """The runtime starts with ``-S``: site-packages are on the path (boto3, as Lambda's runtime has
    it), but their .pth hooks, the lab's editable install among them, are not run: the lab's own
    package is not importable from a function."""
    fn = process_lab.deploy("paths", textwrap.dedent("""
        import importlib.util, sys
        def handler(event, context):
            return {"lab": importlib.util.find_spec("lambdalab_ext") is not None,
                    "boto3": importlib.util.find_spec("boto3") is not None,
                    "site": "site" in sys.modules}
    """), memory_mb=1769)
    r = fn.invoke({})
    assert r.ok, r.logs
    assert r.payload == {"lab": False, "boto3": True, "site": False}
