"""Runtime core benchmark: every figure printed as a ratio against a baseline measured in this run.

    python bench/bench_runtime.py [--backend docker|process|both] [--warm 300] [--cold 10]

1. Warm invoke of a no-op handler, median, against the median of two plain HTTP/1.1 request/response
   exchanges over the same transport (TCP loopback, http.client to http.server, kept alive): the
   Runtime API costs exactly two exchanges per invoke (``/next`` answered, ``/response`` posted).
   The two are measured in alternating blocks, so noise from other work on the machine falls on
   both alike. Goal: at most 1.2x.
2. Cold start of a no-op handler (what the caller waits: sandbox + INIT + invoke), median, against a
   bare ``python -c pass`` in the same image and engine (Docker: container create + start + wait +
   remove through the same SDK; goal at most 1.2x) or as a subprocess (process backend; goal 1.5x).
3. Against a peer: python-lambda-local's per-invocation time (``lambda_local.main.call``) on the same
   handler; goal: our warm invoke at least 50x faster.
4. Sustained warm throughput with 4 environments invoked at once, against one environment invoked
   serially, both sustained over the same time, in alternating rounds. Goal: at least 1.5x on 2
   cores. Printed with the lab's own CPU time per invocation, whose inverse is the ceiling of any
   number of environments (the lab's side runs in one interpreter, under one GIL). And host memory
   per warm environment.
"""

import argparse
import concurrent.futures
import http.client
import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lambdalab_ext import Lab  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
MEMORY = 1769   # one full vCPU, so the sandbox is not slower than the baseline by construction


def median_ms(samples):
    return statistics.median(samples) * 1000


# -- 1. baseline: two HTTP exchanges -------------------------------------------------------------
class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(b"{}")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(b"")


class TwoHTTPExchanges:
    """The baseline: a kept-alive http.client connection to a threading http.server on the loopback."""

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1])
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def samples(self, n):
        out = []
        for _ in range(n):
            t = time.perf_counter()
            self.conn.request("GET", "/next")
            self.conn.getresponse().read()
            self.conn.request("POST", "/response", body=b"null")
            self.conn.getresponse().read()
            out.append(time.perf_counter() - t)
        return out

    def close(self):
        self.conn.close()
        self.server.shutdown()
        self.server.server_close()


# -- measurements on a lab -------------------------------------------------------------------------
def warm_invokes(fn, n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn.invoke({})
        samples.append(time.perf_counter() - t)
    return samples


def warm_against_http(fn, n, blocks=10):
    """Warm invokes and pairs of raw exchanges, ``n`` of each, in alternating blocks."""
    fn.invoke({})
    baseline = TwoHTTPExchanges()
    try:
        baseline.samples(20)
        warm, http2 = [], []
        for _ in range(blocks):
            warm += warm_invokes(fn, max(1, n // blocks))
            http2 += baseline.samples(max(1, n // blocks))
        return warm, http2
    finally:
        baseline.close()


def cold_starts(lab, n):
    samples, inits = [], []
    for i in range(n):
        fn = lab.deploy("cold", NOOP + f"# {i}\n", memory_mb=MEMORY)   # new code: a new environment
        t = time.perf_counter()
        r = fn.invoke({})
        samples.append(time.perf_counter() - t)
        assert r.cold and r.ok, r.logs
        inits.append(r.init_duration_ms / 1000)
        fn.delete()
    return samples, inits


def bare_docker_python(lab, n):
    client, image = lab.backend.client, lab.backend.image
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        container = client.containers.create(image, ["/var/lang/bin/python3", "-c", "pass"],
                                             network_mode="none", labels={"lambdalab": "1", "lambdalab.bench": "1"})
        container.start()
        container.wait()
        container.remove()
        samples.append(time.perf_counter() - t)
    return samples


def bare_subprocess_python(n):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - t)
    return samples


def process_cold_against_bare(lab, n, blocks=5):
    """Process backend: cold starts and bare ``python -c pass`` runs in alternating blocks, so that
    noise from other work on the machine falls on both alike."""
    cold, inits, bare = [], [], []
    for _ in range(blocks):
        samples, block_inits = cold_starts(lab, max(1, n // blocks))
        cold += samples
        inits += block_inits
        bare += bare_subprocess_python(max(1, n // blocks))
    return cold, inits, bare


def process_cold_as_a_user(n):
    """The same, without root's means (own user id, cgroups, mount namespace): what they cost."""
    from lambdalab_ext.runtime.process import ProcessBackend
    ProcessBackend.root_isolation = False
    try:
        lab = Lab(backend="process")
    finally:
        ProcessBackend.root_isolation = True
    try:
        return process_cold_against_bare(lab, n)
    finally:
        lab.shutdown()


def python_lambda_local(n):
    import logging
    from lambda_local.context import Context
    from lambda_local.main import call
    logging.getLogger().setLevel(logging.WARNING)
    namespace = {}
    exec(NOOP, namespace)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        call(namespace["handler"], {}, Context(3))
        samples.append(time.perf_counter() - t)
    return samples


def python_lambda_local_cli(n):
    """The way python-lambda-local is used: one command per invocation."""
    import shutil
    import tempfile
    exe = shutil.which("python-lambda-local") or os.path.join(os.path.dirname(sys.executable), "python-lambda-local")
    folder = tempfile.mkdtemp(prefix="bench-pll-")
    try:
        with open(os.path.join(folder, "lambda_function.py"), "w") as f:
            f.write(NOOP)
        with open(os.path.join(folder, "event.json"), "w") as f:
            f.write("{}")
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run([exe, "-f", "handler", "-t", "3", os.path.join(folder, "lambda_function.py"),
                            os.path.join(folder, "event.json")], check=True, capture_output=True)
            samples.append(time.perf_counter() - t)
        return samples
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sustained_rate(fn, threads, seconds):
    """(invocations per second, the lab's own CPU seconds per invocation) from ``threads`` callers
    invoking back to back for ``seconds``."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def loop(i):
        while time.perf_counter() < stop:
            fn.invoke({})
            counts[i] += 1

    cpu = time.process_time()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    n = max(1, sum(counts))
    return n / (time.perf_counter() - started), (time.process_time() - cpu) / n


def throughput(lab, seconds=10.0, environments=4, rounds=5):
    """(rate with ``environments`` at once, one environment's serial rate), medians over rounds."""
    fn = lab.deploy("tput", NOOP, memory_mb=MEMORY)
    with concurrent.futures.ThreadPoolExecutor(environments) as pool:   # warm up the environments
        list(pool.map(lambda _: fn.invoke({}), range(environments)))
    parallel, serial, cpu = [], [], []
    for _ in range(rounds):
        serial.append(sustained_rate(fn, 1, seconds / rounds / 2)[0])
        rate, cpu_per_invoke = sustained_rate(fn, environments, seconds / rounds / 2)
        parallel.append(rate)
        cpu.append(cpu_per_invoke)
    envs = fn.environments()
    return statistics.median(parallel), statistics.median(serial), envs, statistics.median(cpu)


def memory_per_environment(lab, count=8):
    """Host memory a warm environment costs: container (cgroup usage) or process (RSS), plus the lab's share."""
    def self_rss():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024

    before = self_rss()
    fn = lab.deploy("mem", NOOP, memory_mb=MEMORY)
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: fn.invoke({}), range(count)))
    state = lab.service.get("mem")
    envs = state.idle
    sandbox_bytes = []
    for env in envs:
        sandbox = env._sandbox
        if lab.backend.name == "docker":
            cid = sandbox.container.id
            path = f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes"
            if os.path.exists(path):
                sandbox_bytes.append(int(open(path).read()))
            else:
                stats = lab.backend.client.api.stats(cid, stream=False, one_shot=True)
                sandbox_bytes.append(stats["memory_stats"]["usage"])
        else:
            with open(f"/proc/{sandbox.proc.pid}/status") as f:
                sandbox_bytes.append(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024)
    lab_share = max(0, self_rss() - before) / max(1, len(envs))
    fn.delete()
    return statistics.mean(sandbox_bytes), lab_share, len(envs)


def run(backend, warm_n, cold_n):
    print(f"\n=== {backend} backend ===")
    lab = Lab(backend=backend)
    try:
        print(f"isolation: {lab.isolation}")
        fn = lab.deploy("noop", NOOP, memory_mb=MEMORY)
        warm, http2 = warm_against_http(fn, warm_n)
        print(f"[1] warm invoke median {median_ms(warm):.3f} ms; two HTTP exchanges median "
              f"{median_ms(http2):.3f} ms; ratio {median_ms(warm) / median_ms(http2):.2f}x (goal <= 1.2x)")

        if backend == "docker":
            cold, inits = cold_starts(lab, cold_n)
            bare = bare_docker_python(lab, cold_n)
            what, goal = "bare container running python -c pass (same image, same SDK)", 1.2
        else:
            cold, inits, bare = process_cold_against_bare(lab, cold_n)
            what, goal = "bare subprocess python -c pass (alternating blocks)", 1.5
        print(f"[2] cold start median {median_ms(cold):.1f} ms (of which Init Duration {median_ms(inits):.1f} ms); "
              f"{what} median {median_ms(bare):.1f} ms; ratio {median_ms(cold) / median_ms(bare):.2f}x "
              f"(goal <= {goal}x)")
        if backend == "process" and os.geteuid() == 0:
            cold_user, _, bare_user = process_cold_as_a_user(cold_n)
            print(f"    as a lab that is not root gets it (the lab's own user, no cgroups): cold start median "
                  f"{median_ms(cold_user):.1f} ms; bare {median_ms(bare_user):.1f} ms; ratio "
                  f"{median_ms(cold_user) / median_ms(bare_user):.2f}x")

        try:
            import lambda_local  # noqa: F401  the peer, from the bench extra
        except ImportError:
            print("[3] python-lambda-local is not installed (pip install -e '.[bench]'): comparison skipped")
        else:
            peer = python_lambda_local(min(warm_n, 50))
            cli = python_lambda_local_cli(10)
            print(f"[3] python-lambda-local per invocation: command line (its usual use) median {median_ms(cli):.1f} ms, "
                  f"in-process call() median {median_ms(peer):.3f} ms; ours warm {median_ms(warm):.3f} ms: "
                  f"{median_ms(cli) / median_ms(warm):.0f}x and {median_ms(peer) / median_ms(warm):.1f}x faster "
                  f"(goal >= 50x)")

        rate, serial, envs, cpu = throughput(lab)
        print(f"[4] sustained warm throughput, 4 environments at once: {rate:,.0f} invocations/s; one environment "
              f"serially: {serial:,.0f}/s; ratio {rate / serial:.2f}x (goal >= 1.5x); environments {envs}")
        # The lab's side of an invocation is Python in one interpreter: its CPU time per invocation
        # bounds the rate whatever the number of environments (one GIL).
        print(f"    the lab's own CPU per invocation {cpu * 1000:.3f} ms: one interpreter's ceiling "
              f"{1 / cpu:,.0f}/s; the 4 environments reach {rate * cpu:.0%} of it")
        sandbox, lab_share, count = memory_per_environment(lab)
        print(f"    host memory per warm environment ({count} measured): sandbox {sandbox / 2**20:.1f} MiB + "
              f"lab side {lab_share / 2**20:.2f} MiB")
    finally:
        lab.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["docker", "process", "both"], default="both")
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--cold", type=int, default=10)
    args = parser.parse_args()
    for backend in (["docker", "process"] if args.backend == "both" else [args.backend]):
        run(backend, args.warm, args.cold)


if __name__ == "__main__":
    main()
