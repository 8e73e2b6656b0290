"""What only the Docker backend provides: enforced limits and isolation, measured from inside.

Network tests touch only this machine: the engine's own local networks and this host's addresses,
never an outside address.
"""

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

from lambdalab_ext.runtime.docker import LABEL, reap_orphans

pytestmark = [pytest.mark.docker, pytest.mark.isolation]


def test_sandbox_user_read_only_root_and_dropped_capabilities(docker_lab):
    source = textwrap.dedent("""
        import os
        def try_write(path):
            try:
                with open(path, "w") as f:
                    f.write("x")
                return "written"
            except OSError as exc:
                return type(exc).__name__ + ":" + str(exc.errno)
        def handler(event, context):
            status = open("/proc/self/status").read()
            caps = {l.split(":")[0]: l.split()[1] for l in status.splitlines() if l.startswith("Cap")}
            nnp = [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")][0]
            return {
                "uid": os.getuid(), "gid": os.getgid(), "caps": caps, "no_new_privs": nnp,
                "root_fs": try_write("/etc/lambdalab-test"),
                "task": try_write("/var/task/new.py"),
                "tmp": try_write("/tmp/ok"),
                "docker_sock": os.path.exists("/var/run/docker.sock"),
                "code": sorted(os.listdir("/var/task")),
            }
    """)
    r = docker_lab.deploy("iso", source, memory_mb=1769).invoke({})
    p = r.payload
    assert (p["uid"], p["gid"]) == (993, 990)
    assert p["caps"]["CapEff"] == p["caps"]["CapPrm"] == p["caps"]["CapBnd"] == "0000000000000000"
    assert p["no_new_privs"] == "1"
    assert p["root_fs"] == "OSError:30"      # EROFS: read-only file system
    assert p["task"] == "OSError:30"
    assert p["tmp"] == "written"
    assert p["docker_sock"] is False
    assert p["code"] == ["lambda_function.py"]


def test_limits_are_set_from_the_configuration(docker_lab):
    source = textwrap.dedent("""
        import os
        def read(path):
            try:
                return open(path).read().strip()
            except OSError:
                return None
        def handler(event, context):
            st = os.statvfs("/tmp")
            return {
                "tmp_mb": st.f_blocks * st.f_frsize // (1024 * 1024),
                "mem": read("/sys/fs/cgroup/memory/memory.limit_in_bytes") or read("/sys/fs/cgroup/memory.max"),
                "memsw": read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or read("/sys/fs/cgroup/memory.swap.max"),
                "quota": read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or read("/sys/fs/cgroup/cpu.max"),
                "period": read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
                "pids": read("/sys/fs/cgroup/pids/pids.max") or read("/sys/fs/cgroup/pids.max"),
            }
    """)
    p = docker_lab.deploy("limits", source, memory_mb=512, ephemeral_storage_mb=1024).invoke({}).payload
    assert p["tmp_mb"] == 1024
    assert p["mem"] == str(512 * 1024 * 1024)
    if p["memsw"] not in (None, "0"):
        assert p["memsw"] in (str(512 * 1024 * 1024), "0")   # v1: memory+swap equals memory: no swap
    # CPU: 512 / 1,769 of a vCPU, as a CFS quota over the period.
    if p["period"]:
        quota, period = int(p["quota"]), int(p["period"])
    else:
        quota, period = (int(x) for x in p["quota"].split())
    assert quota / period == pytest.approx(512 / 1769, rel=0.01)
    assert p["pids"] == "1024"


def test_cpu_share_is_capped_at_the_host(docker_lab, docker_engine):
    source = ("def handler(event, context):\n"
              "    q = open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read()\n"
              "    p = open('/sys/fs/cgroup/cpu/cpu.cfs_period_us').read()\n"
              "    return int(q) / int(p)\n")
    share = docker_lab.deploy("bigcpu", source, memory_mb=10_240).invoke({}).payload
    assert share == pytest.approx(min(10_240 / 1769, docker_engine.info()["NCPU"]), rel=0.01)


def test_max_memory_used_is_measured(docker_lab):
    source = textwrap.dedent("""
        blocks = []
        def handler(event, context):
            blocks.append(bytearray(event["mb"] * 1024 * 1024))
            return len(blocks)
    """)
    fn = docker_lab.deploy("mem", source, memory_mb=1024, timeout_s=10)
    small = fn.invoke({"mb": 1})
    big = fn.invoke({"mb": 300})
    assert small.max_memory_used_mb < 100
    # The cgroup's peak includes the 300 MB just touched; Lambda's figure is the environment's peak.
    assert 300 <= big.max_memory_used_mb < 1024
    assert big.max_memory_used_mb >= small.max_memory_used_mb + 300
    assert f"Max Memory Used: {big.max_memory_used_mb} MB" in big.report


def test_out_of_memory_kills_and_reports(docker_lab):
    source = textwrap.dedent("""
        def handler(event, context):
            if event.get("blow"):
                hog = []
                while True:
                    hog.append(bytearray(16 * 1024 * 1024))
            return "fine"
    """)
    fn = docker_lab.deploy("oom", source, memory_mb=256, timeout_s=30)
    assert fn.invoke({}).payload == "fine"
    r = fn.invoke({"blow": True})
    assert r.error["errorType"] == "Runtime.OutOfMemory"
    assert r.error["errorMessage"] == f"RequestId: {r.request_id} Error: Runtime exited with error: signal: killed"
    assert r.max_memory_used_mb == 256
    assert "\tStatus: error\tError Type: Runtime.OutOfMemory" in r.report
    after = fn.invoke({})
    assert after.cold and after.payload == "fine"


def test_fork_bomb_hits_the_pids_limit(docker_lab):
    source = textwrap.dedent("""
        import os, time
        def handler(event, context):
            children = 0
            try:
                while True:
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(60)
                        os._exit(0)
                    children += 1
            except OSError as exc:
                return {"children": children, "error": exc.errno}
    """)
    fn = docker_lab.deploy("forks", source, memory_mb=1769, timeout_s=60)
    r = fn.invoke({})
    assert r.ok, r.logs
    assert r.payload["error"] == 11                  # EAGAIN: the pids limit, not the host, said no
    assert 900 < r.payload["children"] < 1024
    follow = docker_lab.deploy("neighbour", "def handler(e, c):\n    return 'still here'\n", memory_mb=1769)
    assert follow.invoke({}).payload == "still here"


def test_print_flood_is_bounded_and_the_lab_stays_responsive(docker_lab):
    source = textwrap.dedent("""
        import sys
        def handler(event, context):
            line = "x" * 1023 + "\\n"
            for _ in range(event["kb"]):
                sys.stdout.write(line)
            return "done"
    """)
    fn = docker_lab.deploy("flood", source, memory_mb=1769, timeout_s=60)
    other = docker_lab.deploy("other", "def handler(e, c):\n    return 'ok'\n", memory_mb=1769)
    other.invoke({})
    answers = []
    stop = threading.Event()

    def poke():
        while not stop.is_set():
            answers.append(other.invoke({}).payload)

    poker = threading.Thread(target=poke)
    poker.start()
    try:
        r = fn.invoke({"kb": 200_000})           # about 200 MB of output
    finally:
        stop.set()
        poker.join()
    assert r.payload == "done"
    assert len(r.logs) < 400_000
    assert "bytes of output dropped by lambdalab" in r.logs
    assert r.logs.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
    assert answers and set(answers) == {"ok"}


API_MODES = ["namespace", "socket"]


@pytest.mark.parametrize("mode", API_MODES)
def test_no_network_but_the_runtime_api(mode, make_lab, docker_engine):
    """No network at all, in each mode: the Runtime API at 127.0.0.1:9001 as on Lambda, and nothing
    else, not even a listener on another of the engine's networks on this machine."""
    lab = make_lab("docker", docker_network_mode=mode)
    assert lab.backend.api_mode == mode
    # The default bridge's gateway: a host address every container on that bridge could reach.
    # (No network is created for the test: creating and removing networks while containers exit
    # deadlocked this engine's libnetwork once, in 20.10.24.)
    gateway = _host_addresses(docker_engine)[-1]
    listener = socket.socket()
    listener.bind((gateway, 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    source = textwrap.dedent("""
        import os, socket
        def handler(event, context):
            api_host, api_port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
            out = {"api_address": os.environ["AWS_LAMBDA_RUNTIME_API"]}
            for name, addr in (("api", (api_host, int(api_port))), ("other", (event["host"], event["port"]))):
                s = socket.socket()
                s.settimeout(2)
                try:
                    s.connect(addr)
                    out[name] = "connected"
                except OSError as exc:
                    out[name] = type(exc).__name__
                finally:
                    s.close()
            out["interfaces"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
            return out
    """)
    try:
        fn = lab.deploy("net", source, memory_mb=1769, timeout_s=10)
        p = fn.invoke({"host": gateway, "port": port}).payload
    finally:
        listener.close()
    assert p["api_address"] == "127.0.0.1:9001"
    assert p["api"] == "connected"
    assert p["other"] == "OSError"            # ENETUNREACH: there is no route anywhere
    assert p["interfaces"] == ["lo"]
    assert "no network at all" in lab.isolation


def test_the_namespace_mode_is_used_as_root(docker_lab):
    assert os.geteuid() != 0 or docker_lab.backend.api_mode == "namespace", \
        "CI runs as root: the namespace mode must be in use"


def test_an_unknown_network_mode_is_refused(make_lab):
    with pytest.raises(ValueError, match="namespace"):
        make_lab("docker", docker_network_mode="internal")


# A function that tries to take other environments' events: every address the engine's networks
# and this host have, on the ports where Runtime APIs listened in the old internal-network mode
# (the gateway's ephemeral ports, given by the test) and on 9001; every Unix socket it can see.
HIJACKER = textwrap.dedent("""
    import glob, os, socket, stat, time
    def handler(event, context):
        stolen, reached, tried = [], [], 0
        deadline = time.time() + event["seconds"]
        while time.time() < deadline:
            for host in event["hosts"]:
                for port in event["ports"]:
                    tried += 1
                    s = socket.socket()
                    s.settimeout(0.2)
                    try:
                        s.connect((host, port))
                    except OSError:
                        continue
                    reached.append(f"{host}:{port}")
                    try:   # park a /next there, as the attack did
                        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                        s.settimeout(1)
                        data = s.recv(65536)
                        if b"Lambda-Runtime-Aws-Request-Id" in data:
                            stolen.append(data.decode("latin-1")[-200:])
                    except OSError:
                        pass
                    s.close()
            time.sleep(0.05)
        sockets = set()
        for top in ("/run", "/var/run", "/tmp", "/dev"):
            for path in glob.glob(top + "/**", recursive=True):
                try:
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        sockets.add(os.path.realpath(path))
                except OSError:
                    pass
        return {"tried": tried, "reached": reached, "stolen": stolen, "sockets": sorted(sockets)}
""")
VICTIM = "def handler(event, context):\n    return {'who': 'victim', 'event': event}\n"


def _host_addresses(engine):
    """This host's IPv4 addresses on the engine's networks, then the others; the last is a gateway."""
    addresses = {"127.0.0.1"}
    try:
        addresses.add(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    gateways = set()
    for network in engine.api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            gateway = config.get("Gateway")
            if not gateway and config.get("Subnet") and ":" not in config["Subnet"]:
                # Some engines leave the default bridge's gateway out of its IPAM record: it is the
                # subnet's first address (docker0's own), as the engine assigns it.
                gateway = str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
            if gateway and ":" not in gateway:
                gateways.add(gateway)
    assert gateways, "the engine has no bridge network with a gateway"
    return sorted(a for a in addresses - gateways if ":" not in a) + sorted(gateways)


@pytest.mark.slow
@pytest.mark.parametrize("mode", API_MODES)
def test_a_function_cannot_hijack_other_functions(mode, make_lab, docker_engine):
    """The attack that worked in the internal-network mode, tried in each mode, within one lab and
    across two labs: every victim invocation gets its own answer, the attacker steals nothing."""
    victim_lab = make_lab("docker", docker_network_mode=mode)
    other_lab = make_lab("docker", docker_network_mode=mode)
    victim = victim_lab.deploy("victim", VICTIM, memory_mb=256)
    victim.invoke({"n": -1})          # a warm victim environment, parked in /next
    hosts = _host_addresses(docker_engine)
    attack = {"seconds": 6, "hosts": hosts, "ports": [9001, 9000, 8080, 80]}
    attackers = [lab.deploy("attacker", HIJACKER, memory_mb=256, timeout_s=20) for lab in (victim_lab, other_lab)]
    outcomes = []
    threads = [threading.Thread(target=lambda f=f: outcomes.append(f.invoke(attack))) for f in attackers]
    for t in threads:
        t.start()
    answers = [victim.invoke({"n": i}).payload for i in range(5)]
    for t in threads:
        t.join()
    assert answers == [{"who": "victim", "event": {"n": i}} for i in range(5)]
    for outcome in outcomes:
        report = outcome.payload
        assert outcome.ok, outcome.logs
        assert report["tried"] > 0
        assert report["stolen"] == []
        # Its own Runtime API (127.0.0.1:9001) is the only address it reaches.
        assert set(report["reached"]) <= {"127.0.0.1:9001"}
        # The only sockets it can see are its own environment's (socket mode), none of another's.
        # (the Runtime API, the embedded AWS and the Parameters and Secrets Extension, all the lab's).
        assert report["sockets"] in ([], ["/run/lambdalab-api.sock", "/run/lambdalab-aws.sock",
                                          "/run/lambdalab-secrets-extension.sock"])


def test_no_dev_shm(docker_lab):
    """Lambda has no /dev/shm; Docker's default 64 MB tmpfs there is not mounted (not counted in
    ephemeral storage, it would be a second /tmp)."""
    source = textwrap.dedent("""
        import os
        def handler(event, context):
            try:
                with open("/dev/shm/x", "wb") as f:
                    f.write(b"x" * 1024)
                return "written"
            except OSError as exc:
                return type(exc).__name__
    """)
    assert docker_lab.deploy("shm", source, memory_mb=256).invoke({}).payload in (
        "FileNotFoundError", "PermissionError", "OSError")


def test_engine_objects_vanishing_during_reaping(docker_engine, runtime_image):
    """Another lab on the same engine removes its containers while this one reaps: no error, and
    nothing of a live lab is removed."""
    labels = {LABEL: "1", f"{LABEL}.lab": "lambdalab-test-live", f"{LABEL}.pid": str(os.getpid()),
              f"{LABEL}.host": socket.gethostname()}
    ids = [docker_engine.api.create_container(runtime_image, command=["true"], labels=labels)["Id"]
           for _ in range(20)]
    errors = []

    def remove_all():
        for cid in ids:
            try:
                docker_engine.api.remove_container(cid, force=True)
            except Exception as exc:   # reported below
                errors.append(exc)

    remover = threading.Thread(target=remove_all)
    remover.start()
    try:
        while remover.is_alive():
            reap_orphans(docker_engine)      # raised NotFound when a listed container vanished
    finally:
        remover.join()
    assert errors == []    # every one was still there for its owner to remove: reaping took none


def test_containers_are_labelled(docker_lab, docker_engine):
    fn = docker_lab.deploy("labelled", "def handler(e, c):\n    return 1\n", memory_mb=1769)
    fn.invoke({})
    containers = docker_engine.containers.list(filters={"label": f"{LABEL}.lab={docker_lab.id}"})
    assert len(containers) == 1
    labels = containers[0].labels
    assert labels[LABEL] == "1" and labels[f"{LABEL}.function"] == "labelled"
    assert labels[f"{LABEL}.pid"] == str(os.getpid()) and labels[f"{LABEL}.host"] == socket.gethostname()


def test_a_dead_kernel_leaves_nothing_the_next_lab_does_not_reap(docker_engine, runtime_image, make_lab):
    """A kernel killed with SIGKILL cannot clean up; the next Lab() removes what it left."""
    script = textwrap.dedent(f"""
        import sys, time
        from lambdalab_ext import Lab
        lab = Lab(backend="docker", image={runtime_image!r})
        lab.deploy("orphan", "def handler(e, c):\\n    return 1\\n", memory_mb=1769).invoke({{}})
        print(lab.id, lab.workdir, flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        lab_id, _, workdir = proc.stdout.readline().strip().partition(" ")
        assert lab_id, "the child lab did not start"
        assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab_id}"})
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.path.isdir(workdir), "the killed lab's folder should still be there before reaping"
    removed = reap_orphans(docker_engine)
    assert removed >= 1    # its container (no network: no mode creates one)
    make_lab("docker")     # a new lab reaps the rest: the dead lab's folder
    assert not os.path.exists(workdir)
    assert docker_engine.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab_id}"}) == []
    assert docker_engine.networks.list(filters={"label": f"{LABEL}.lab={lab_id}"}) == []


def test_the_mount_table_shows_no_host_path_of_the_lab(docker_lab):
    """/proc/self/mountinfo names the source of each bind mount: neither the checkout, nor the
    lab's process id, nor the lab's id may be read there."""
    source = "def handler(event, context):\n    return open('/proc/self/mountinfo').read()\n"
    table = docker_lab.deploy("mounts", source, memory_mb=256).invoke({}).payload
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert checkout not in table
    components = {part for line in table.splitlines() for field in line.split()[3:5] for part in field.split("/")}
    assert str(os.getpid()) not in components
    assert not any(docker_lab.id in part for part in components)
    assert "/var/task" in table and "/var/runtime" in table
