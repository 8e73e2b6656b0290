"""The local HTTP endpoint (``lab.serve_http``): what it adds to a request over a direct warm invoke.

The same warm function is invoked directly (``fn.invoke(event)``) and through the endpoint by a
real HTTP client on a keep-alive connection (``http.client``), in alternating blocks so that both
see the same machine state; the medians of the same run are compared. What the endpoint adds is
reading the request, building the front door's event, mapping the answer and writing it (goal:
under 2 ms median added, for each kind).

    .venv/bin/python bench/bench_http.py [--backend docker|process] [--kinds http,rest,url]
                                         [--blocks 10] [--per-block 50]
"""

import argparse
import http.client
import json
import statistics
import time

from lambdalab_ext import Lab

HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}
"""
# The event a direct invoke sends: about the size of the front door's, so that both carry the same bytes.
DIRECT_EVENT = {"rawPath": "/bench", "body": '{"n": 1}', "padding": "x" * 1200}


def bench(backend, kinds, blocks, per_block):
    lab = Lab(backend=backend)
    try:
        fn = lab.deploy("bench-http", HANDLER, memory_mb=1769)
        endpoints = {kind: lab.serve_http("bench-http", kind=kind) for kind in kinds}
        connections = {kind: http.client.HTTPConnection(e.host, e.port, timeout=30) for kind, e in endpoints.items()}
        paths = {kind: ("/prod" if kind == "rest" else "") + "/bench" for kind in kinds}
        body = json.dumps({"n": 1})

        def over_http(kind):
            conn = connections[kind]
            started = time.perf_counter()
            conn.request("POST", paths[kind], body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, response.status
            return elapsed

        def direct():
            started = time.perf_counter()
            result = fn.invoke(DIRECT_EVENT)
            elapsed = (time.perf_counter() - started) * 1000
            assert result.ok, result.payload
            return elapsed

        for kind in kinds:                       # warm: the environment, the connections, the pools
            for _ in range(20):
                over_http(kind)
        for _ in range(20):
            direct()
        times = {"direct": [], **{kind: [] for kind in kinds}}
        for _ in range(blocks):                  # alternating blocks: the same machine state for each
            times["direct"] += [direct() for _ in range(per_block)]
            for kind in kinds:
                times[kind] += [over_http(kind) for _ in range(per_block)]
        for conn in connections.values():
            conn.close()
        return {name: statistics.median(values) for name, values in times.items()}, lab.backend.name
    finally:
        lab.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="process", choices=["docker", "process"])
    parser.add_argument("--kinds", default="http,rest,url")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-block", type=int, default=50)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    medians, backend = bench(args.backend, kinds, args.blocks, args.per_block)
    base = medians["direct"]
    print(f"backend: {backend}; {args.blocks} alternating blocks of {args.per_block} requests each")
    print(f"  direct warm fn.invoke        median {base:7.3f} ms")
    worst = 0.0
    for kind in kinds:
        added = medians[kind] - base
        worst = max(worst, added)
        print(f"  through serve_http({kind!r:6}) median {medians[kind]:7.3f} ms  added {added:+7.3f} ms  "
              f"({medians[kind] / base:.2f}x)")
    print(f"goal: under 2 ms median added: {'met' if worst < 2.0 else 'NOT met'} (worst {worst:.3f} ms)")


if __name__ == "__main__":
    main()
