"""What a backend is told to build: one execution environment's sandbox, described once.

The environment (``environment.py``) decides everything Lambda decides about an execution
environment (its memory and the CPU share that comes with it, its ``/tmp``, its variables, what is
mounted where, which of the lab's endpoints it reaches); a backend turns the description into a
container or a process and reads nothing back from the environment. A new capability (a layer at
``/opt``, another endpoint) is then one more field or mount here, not a change to every backend.

>>> spec = SandboxSpec(function_name="resize", environment_id="0123456789ab", memory_mb=1769,
...                    cpu_vcpus=1.0, ephemeral_storage_mb=512, variables={"STAGE": "dev"},
...                    handler="lambda_function.handler", runtime_client="lambdalab",
...                    mounts=(Mount("/var/task", "/tmp/code"),))
>>> spec.code_dir, spec.memory_bytes
('/tmp/code', 1854930944)
"""

import dataclasses
from types import MappingProxyType
from typing import Callable, Mapping

TASK_ROOT = "/var/task"
OPT = "/opt"                       # where Lambda extracts a function's layers


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host folder seen inside the environment at ``target`` (read-only unless said)."""

    target: str
    source: str
    read_only: bool = True


@dataclasses.dataclass(frozen=True)
class SandboxSpec:
    function_name: str
    environment_id: str
    memory_mb: int                 # the function's memory size: the sandbox's hard limit, no swap
    cpu_vcpus: float               # the CPU share that memory buys (1,769 MB per vCPU), capped by the host
    ephemeral_storage_mb: int      # the size of /tmp
    variables: Mapping[str, str]   # Lambda's variables, then the function's own
    handler: str                   # ``module.function``
    runtime_client: str            # "lambdalab" (the lab's own) or "awslambdaric" (AWS's)
    mounts: tuple = ()             # Mount, the code at /var/task first
    image: str | None = None       # a container-image function's image (its /var/task is the image's)
    # The lab's endpoints the function reaches at 127.0.0.1:PORT inside its environment (the
    # embedded AWS): port -> (name, connect), ``connect()`` giving a socket to the endpoint.
    endpoints: Mapping[int, tuple[str, Callable]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        object.__setattr__(self, "mounts", tuple(self.mounts))
        if not any(m.target == TASK_ROOT for m in self.mounts):
            raise ValueError(f"a sandbox needs its code mounted at {TASK_ROOT}")

    @property
    def code_dir(self):
        """The host folder of the function's code (what is mounted at /var/task)."""
        return next(m.source for m in self.mounts if m.target == TASK_ROOT)

    @property
    def opt_dir(self):
        """The host folder of the function's layers (what is mounted at /opt), or None."""
        return next((m.source for m in self.mounts if m.target == OPT), None)

    @property
    def memory_bytes(self):
        return self.memory_mb * 1024 * 1024
