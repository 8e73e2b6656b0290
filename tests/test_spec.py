"""The sandbox specification: backends build from it alone (a variable, a mount, an endpoint, the
memory and CPU a function is given all reach the sandbox through it)."""

import pytest

from lambdalab_ext.limits import cpu_share
from lambdalab_ext.runtime.spec import TASK_ROOT, Mount, SandboxSpec

READ_BACK = """
import os
def handler(event, context):
    return {"vars": {k: os.environ.get(k) for k in ("STAGE", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")},
            "task": sorted(os.listdir("/var/task"))}
"""


def _spec(**overrides):
    fields = dict(function_name="f", environment_id="e" * 12, memory_mb=256, cpu_vcpus=0.5,
                  ephemeral_storage_mb=512, variables={"A": "1"}, handler="lambda_function.handler",
                  runtime_client="lambdalab", mounts=(Mount(TASK_ROOT, "/code"),))
    fields.update(overrides)
    return SandboxSpec(**fields)


def test_a_spec_without_code_is_refused_and_a_spec_cannot_be_changed_afterwards():
    with pytest.raises(ValueError, match="/var/task"):
        _spec(mounts=())
    spec = _spec()
    with pytest.raises(TypeError):
        spec.variables["A"] = "2"     # a read-only view: what the backend got is what was decided
    assert spec.code_dir == "/code" and spec.memory_bytes == 256 * 2**20


def test_every_backend_is_given_one_spec_per_sandbox_with_what_the_environment_decided(lab, monkeypatch):
    seen = []
    original = lab.backend.create_sandbox

    def create_sandbox(spec, events, on_death=None):
        seen.append(spec)
        return original(spec, events, on_death)

    monkeypatch.setattr(lab.backend, "create_sandbox", create_sandbox)
    fn = lab.deploy("spec-reader", READ_BACK, memory_mb=512, env={"STAGE": "dev"},
                    ephemeral_storage_mb=600)
    result = fn.invoke({})
    assert result.ok, result.logs
    [spec] = seen
    assert (spec.function_name, spec.memory_mb, spec.ephemeral_storage_mb) == ("spec-reader", 512, 600)
    assert spec.cpu_vcpus == cpu_share(512, lab.backend.host_cpus)
    assert spec.environment_id == result.environment_id
    assert spec.variables["STAGE"] == "dev" and spec.variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    # What the function reads is what the spec said.
    assert result.payload["vars"] == {"STAGE": "dev", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}
    assert "lambda_function.py" in result.payload["task"]
    assert spec.code_dir and spec.mounts[0].target == "/var/task"
