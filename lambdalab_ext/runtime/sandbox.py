"""What every backend's sandbox has in common: its folder, its exit report, its memory figure."""

import os
import time
import uuid

from .api import RuntimeEvent


class Sandbox:
    """One runtime process in isolation (a container, or a subprocess). Backends subclass it.

    A subclass provides ``start(attach_api)`` (returns the ``perf_counter`` moment INIT begins),
    ``kill()``, ``destroy()`` and ``max_memory_bytes()``, and sets ``logs`` (a ``LogCollector``).

    It is built from a ``SandboxSpec`` alone (``spec.py``).

    A runtime that ends by itself is reported twice: as an ``exit`` event, for whoever waits on
    the runtime (INIT, an invocation), and to ``on_death(sandbox)``, the environment's callback,
    which matters when nobody waits: an idle environment whose runtime died between invocations
    must leave the service's idle list at once, not when the next request finds it dead.
    """

    def __init__(self, backend, spec, events, on_death=None):
        self.backend = backend
        self.spec = spec             # a SandboxSpec: everything the backend builds from
        self.events = events
        self.killed = False          # by the platform (timeout, shutdown): not reported as an exit
        self.oom = False
        self.logs = None
        self.on_death = on_death
        # One folder per sandbox: an environment restarted after a suppressed init gets a new one
        # while the old one is still being removed.
        self.folder = os.path.join(backend.workdir, "envs", f"{spec.environment_id}-{uuid.uuid4().hex[:6]}")

    def before_invoke(self, timeout_s):
        """A hook before each event is handed over (the process backend bounds CPU time here)."""

    def report_exit(self, exit_code):
        """The runtime process ended by itself (or for memory): tell the environment."""
        if not self.killed or self.oom:
            self.events.put(RuntimeEvent("exit", time.perf_counter(), exit_code=exit_code, oom_killed=self.oom))
            if self.on_death is not None:
                self.on_death(self)

    def last_memory_bytes(self):
        """Peak memory once the runtime is gone: the limit if it was killed for memory."""
        if self.oom:
            return self.spec.memory_bytes
        return self.max_memory_bytes()
