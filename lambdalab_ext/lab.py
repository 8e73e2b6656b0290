"""``Lab``: one per kernel. Chooses the backend, holds the functions, the clock and the service.

>>> from lambdalab_ext import Lab                                          # doctest: +SKIP
>>> lab = Lab()                        # Docker when an engine answers, else processes (and it says so)
>>> fn = lab.deploy("hello", "def handler(event, context):\\n    return {'hi': event['name']}\\n")
>>> r = fn.invoke({"name": "Ada"})
>>> r.payload, r.cold
({'hi': 'Ada'}, True)
>>> lab.shutdown()
"""

import atexit
import collections.abc
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import uuid
import weakref

from .async_queue import AsyncQueue
from .aws.control import LabControl
from .aws.deliver import Deliverer
from .aws.endpoint import AWSEndpoint
from .aws.lambda_api import LambdaAPI
from .clock import RealClock
from .errors import InvalidParameterValueException, LabClosedError
from .function import CUSTOM_RUNTIMES, FunctionConfiguration
from .limits import AWS_ENDPOINT_PORT, function_arn
from .record import LabRecord
from .request import InvocationRequest
from .result import AcceptedInvocation
from .runtime.relay import Relay
from .service import LambdaService, encode_event

BACKENDS = ("auto", "docker", "process")
# Both land in every ARN, and so in a header of every event the runtime receives: whole strings only.
_REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]")
_ACCOUNT_ID_RE = re.compile(r"[0-9]{12}")
PROCESS_NOTICE = ("lambdalab: no Docker engine answers, so functions run as local processes, a WEAKER "
                  "isolation than Lambda's (lab.isolation says what this machine gives them). Start Docker "
                  "for the real thing.")
# A lab's folder is named at random and says who owns it in a file inside: its name reaches the
# mount table a function can read, which must show neither the lab's process nor its id.
OWNER_FILE = ".lambdalab-owner"


def _make_workdir():
    workdir = tempfile.mkdtemp(prefix="lambdalab-")
    with open(os.path.join(workdir, OWNER_FILE), "w") as f:
        f.write(f"{os.getpid()}\n")
    return workdir


def _reap_workdirs():
    """Remove the folders of labs whose process died without shutting down (a killed kernel)."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        if not name.startswith("lambdalab-"):
            continue
        try:
            with open(os.path.join(root, name, OWNER_FILE)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except PermissionError:
            pass


class _Parts:
    """What a lab holds that must be stopped, in order, even if the lab is never shut down."""

    def __init__(self, workdir, aws, clock):
        self.workdir, self.aws, self.clock = workdir, aws, clock   # clock: only one the lab made
        self.backend = self.service = self.async_queue = self.relay = None
        self.sources = []      # event sources (pollers, notifications, endpoints): stopped first

    def close(self):
        lost = 0
        try:
            for source in reversed(self.sources):
                try:
                    source.close()
                except Exception:   # one source failing to stop must not keep the rest running
                    pass
            if self.async_queue is not None:
                lost = self.async_queue.shutdown()
            if self.service is not None:
                self.service.shutdown()
        finally:
            try:
                if self.backend is not None:
                    self.backend.close()
            finally:
                for part in (self.relay, self.clock):
                    if part is not None:
                        part.close()
                self.aws.stop()
                shutil.rmtree(self.workdir, ignore_errors=True)
        return lost


class Function:
    """A deployed function: invoke it, read its configuration, change it, delete it."""

    def __init__(self, lab, name):
        self._lab = lab
        self.name = name

    @property
    def config(self):
        return self._lab.service.get(self.name).config

    @property
    def arn(self):
        return function_arn(self.name, self._lab.region, self._lab.account_id)

    def invoke(self, event=None, *, invocation_type="RequestResponse", client_context=None, cognito_identity=None,
               on_log=None):
        """Invoke, as the Invoke API does: synchronously by default, returning an ``InvocationResult``
        (``status_code`` 200); ``invocation_type="Event"`` queues the event and returns at once an
        ``AcceptedInvocation`` (202, with its ``request_id``), ``"DryRun"`` only checks (204).

        ``event`` is any JSON-serialisable value (or JSON text as ``bytes``). ``client_context`` is
        a dict (the ClientContext object), or its base64 text as boto3 sends it: at most 3,583
        bytes of JSON. ``on_log(line)`` receives the log lines as they are written. Throttles and
        bad requests raise Lambda's errors (``TooManyRequestsException``,
        ``RequestEntityTooLargeException``...); errors of the function itself come back in the
        result (``result.error``), as the Invoke API returns them. After ``lab.shutdown()`` every
        method of the function raises ``LabClosedError`` (a ``RuntimeError``).
        ``cognito_identity`` (``{"cognitoIdentityId": ..., "cognitoIdentityPoolId": ...}``) is what
        ``context.identity`` shows, as a mobile SDK caller would set it.
        """
        return self._lab.invoke(self.name, event, invocation_type=invocation_type, client_context=client_context,
                                cognito_identity=cognito_identity, on_log=on_log)

    def put_event_invoke_config(self, maximum_retry_attempts=2, maximum_event_age_s=21_600, on_success=None,
                                on_failure=None):
        """Asynchronous invocation settings (``PutFunctionEventInvokeConfig``): retries (0-2), the
        maximum event age (60 s - 6 h) and the on-success / on-failure destinations (ARNs of an SQS
        queue, an SNS topic, a Lambda function or an EventBridge bus)."""
        from .async_queue import EventInvokeConfig
        settings = EventInvokeConfig(maximum_retry_attempts=maximum_retry_attempts,
                                     maximum_event_age_s=maximum_event_age_s, on_success=on_success,
                                     on_failure=on_failure)
        return self.update(event_invoke_config=settings)

    def update(self, source=None, **changes):
        """Change the code and/or configuration (memory_mb, timeout_s, env, ...): new environments follow."""
        if "env" in changes:
            changes["environment"] = changes.pop("env")
        if source is not None:
            changes["source"] = source
        config = self.config.replace(**changes)
        self._lab.service.put_function(config)
        return self

    def power_tune(self, memory_sizes=(128, 256, 512, 1024, 1769, 3008), invocations=10, payload=None, *,
                   strategy="cost", balanced_weight=0.5, discard_top_bottom=0.2, parallel=False, progress=True):
        """Run the function at each memory size and find the best one, like AWS Lambda Power Tuning.

        Returns a ``PowerTuningResult`` (table, ``plot()``, ``best``, ``reason``); the memory size is
        restored afterwards. Details: :func:`lambdalab_ext.tuning.power_tune`.

        >>> result = fn.power_tune([128, 512, 1769], invocations=5, payload={"n": 1}, strategy="speed")  # doctest: +SKIP
        >>> result.best.memory_mb, result.reason                                                        # doctest: +SKIP
        (1769, '1,769 MB is the fastest: ...')
        """
        from .tuning import power_tune
        return power_tune(self, memory_sizes, invocations, payload, strategy=strategy,
                          balanced_weight=balanced_weight, discard_top_bottom=discard_top_bottom,
                          parallel=parallel, progress=progress)

    def environments(self):
        """How many environments the function has now: idle, provisioned_idle, busy, starting."""
        return self._lab.service.environments(self.name)

    def delete(self):
        self._lab.service.delete_function(self.name)
        self._lab.functions.pop(self.name, None)

    def __repr__(self):
        c = self.config
        return f"<Function {self.name}: {c.memory_mb} MB, timeout {c.timeout_s} s, {self._lab.backend.name}>"


class Lab:
    """A local Lambda: functions run in isolated execution environments on this machine.

    ``backend``: ``"auto"`` (Docker when an engine answers, else ``"process"``, with a notice),
    ``"docker"`` or ``"process"``. ``keep_alive_s``: how long an idle environment stays warm on
    ``clock`` (real by default; a ``VirtualClock`` lets a notebook jump ahead). ``account_concurrency``:
    the account's concurrency quota (1,000 like a default AWS account). ``docker_network_mode``:
    ``"auto"``, ``"namespace"`` or ``"socket"``: how the Runtime API and the lab's AWS endpoint
    reach a container that has no network at all (see ``lambdalab_ext.runtime.docker``).

    ``lab.aws`` is the embedded AWS (moto's services and this lab's Lambda API on one local
    endpoint, started on first need): ``lab.aws.client("s3")`` from a cell, plain
    ``boto3.client("s3")`` inside a function. ``lab.record`` is every step the service took.
    """

    def __init__(self, backend="auto", *, keep_alive_s=600.0, account_concurrency=1000, clock=None,
                 region="us-east-1", account_id="123456789012", image=None, progress=None,
                 docker_network_mode="auto"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
            raise ValueError(f"region {region!r} is not an AWS Region name such as 'us-east-1'.")
        if not isinstance(account_id, str) or not _ACCOUNT_ID_RE.fullmatch(account_id):
            raise ValueError(f"account_id {account_id!r} is not an AWS account ID (12 digits).")
        self.id = uuid.uuid4().hex[:10]
        self.region = region
        self.account_id = account_id
        self.clock = clock or RealClock()
        self.notice = None
        self.functions = {}
        self.workdir = _make_workdir()
        os.chmod(self.workdir, 0o755)   # the sandbox user reads the code below it
        self._closed = False
        self._lock = threading.Lock()
        self.record = LabRecord(clock=self.clock.now)
        self.aws = AWSEndpoint(region=region)
        parts = _Parts(workdir=self.workdir, aws=self.aws, clock=self.clock if clock is None else None)
        try:
            self.backend = parts.backend = self._make_backend(backend, image, progress, docker_network_mode)
            if self.backend.name != "docker":
                # The process backend's functions reach the endpoint at a loopback port of its own,
                # through the same relay (the endpoint itself starts on the first call).
                parts.relay = Relay(name=f"lambdalab-relay-{self.id}")
                listener = socket.socket()
                listener.bind(("127.0.0.1", 0))
                listener.listen(64)
                parts.relay.listen(listener, self._connect_aws, name="aws")
                self.backend.aws_endpoint_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            self.service = parts.service = LambdaService(
                self.backend, self.workdir, self.clock, region=region, account_id=account_id,
                account_concurrency=account_concurrency, keep_alive_s=keep_alive_s, record=self.record)
            self.async_queue = parts.async_queue = AsyncQueue(
                invoke=self.service.invoke_request, function=lambda name: self.service.get(name).config,
                deliver=Deliverer(self.aws, self._invoke_async_bytes), record=self.record, clock=self.clock,
                function_arn=self._arn)
            self.aws.lambda_app = LambdaAPI(LabControl(self.service, self.async_queue, region=region,
                                                       account_id=account_id))
            self._sources = parts.sources
            self._start_sources()
        except BaseException:
            parts.close()
            raise
        _reap_workdirs()
        # Kernel exit (or interpreter exit) shuts the lab down; the finalizer also covers a lab
        # that is garbage-collected without shutdown().
        self._finalizer = weakref.finalize(self, parts.close)
        atexit.register(self._finalizer)

    def _start_sources(self):
        """The event sources (``lambdalab_ext.sources``): each one is appended to ``self._sources``,
        which the lab closes first at shutdown (each has ``close()``), and reacts to AWS calls
        through ``self.aws.observe`` or polls on ``self.clock``."""
        from .sources.s3 import S3Notifications
        self._sources.append(S3Notifications(self.aws, self.service, self.async_queue, self.record,
                                             region=self.region, account_id=self.account_id))
        from .sources.eventbridge import EventBridgeSource
        from .sources.sns import SNSSource
        self._sources.append(EventBridgeSource(aws=self.aws, service=self.service, async_queue=self.async_queue,
                                               clock=self.clock, record=self.record, region=self.region,
                                               account_id=self.account_id))
        self._sources.append(SNSSource(aws=self.aws, async_queue=self.async_queue, clock=self.clock,
                                       record=self.record, region=self.region, account_id=self.account_id))
        from .sources.sqs import TraceHeaders
        self._sources.append(TraceHeaders(self.aws))
        from .sources.mappings import EventSourceMappings
        self._event_source_mappings = EventSourceMappings(
            self.service, self.aws, self.clock, self.record, region=self.region, account_id=self.account_id,
            deliver=Deliverer(self.aws, self._invoke_async_bytes))
        self.aws.lambda_app.control.event_source_mappings = self._event_source_mappings
        self._sources.append(self._event_source_mappings)
        # CloudWatch Logs, metrics and alarms of the lab's functions (``lab.observability``).
        from .observe.service import attach as attach_observability
        self.observability = attach_observability(self)
        self._sources.append(self.observability)
        # Step Functions on the endpoint (``lab.stepfunctions``), and the execution roles enforced on
        # every AWS call a function makes (``lab.iam``; last: it puts its check ahead of the others).
        from .stepfunctions.service import attach as attach_stepfunctions
        self.stepfunctions = attach_stepfunctions(self)
        self._sources.append(self.stepfunctions)
        from .iam.service import attach as attach_iam
        self._sources.append(attach_iam(self))
        # The Parameters and Secrets Lambda Extension (localhost:2773), with the function's own role.
        from .iam.secrets import attach as attach_secrets_extension
        self._sources.append(attach_secrets_extension(self))
        from .observe.traces import attach as attach_traces     # X-Ray (``lab.traces``)
        self.traces = attach_traces(self); self._sources.append(self.traces)

    def _connect_aws(self):
        return socket.create_connection(self.aws.address)

    def _connect_secrets_extension(self):
        # The AWS Parameters and Secrets Lambda Extension (``iam.secrets.attach``), once attached.
        address = getattr(getattr(self, "secrets_extension", None), "address", None)
        if address is None:
            raise ConnectionRefusedError("the Parameters and Secrets Lambda Extension is not attached")
        return socket.create_connection(address)

    def _arn(self, name):
        return function_arn(name, self.region, self.account_id)

    def _invoke_async_bytes(self, name, payload):
        self.async_queue.submit(InvocationRequest(function_name=name, payload=payload, invocation_type="Event",
                                                  source="lambda-destination"))

    def _make_backend(self, backend, image, progress, network_mode):
        from .runtime.docker import DockerBackend, docker_client, reap_orphans
        from .iam.secrets import SECRETS_EXTENSION_PORT
        from .runtime.process import ProcessBackend
        if backend in ("auto", "docker"):
            client = docker_client()
            if client is not None:
                reap_orphans(client, keep_lab=self.id)
                from .runtime.process import reap_orphans as reap_process_orphans
                reap_process_orphans()     # process-backend supervisors a killed kernel left
                backend = DockerBackend(self.id, self.workdir, client=client, image=image, progress=progress,
                                        network_mode=network_mode,
                                        endpoints={AWS_ENDPOINT_PORT: ("aws", self._connect_aws),
                                                   SECRETS_EXTENSION_PORT: ("secrets-extension",
                                                                            self._connect_secrets_extension)})
                backend.aws_endpoint_url = f"http://127.0.0.1:{AWS_ENDPOINT_PORT}"
                return backend
            if backend == "docker":
                raise RuntimeError("No Docker engine answers (is the daemon running, and may you use its "
                                   "socket?). Start it, or use Lab(backend='process') for the weaker fallback.")
            self.notice = PROCESS_NOTICE
            print(PROCESS_NOTICE, file=sys.stderr)
        return ProcessBackend(self.id, self.workdir)

    @property
    def isolation(self):
        """What isolates one execution environment here, in words."""
        return self.backend.isolation

    def deploy(self, name, source, handler="handler", *, memory_mb=128, timeout_s=3, env=None,
               ephemeral_storage_mb=512, reserved_concurrency=None, provisioned_concurrency=0,
               runtime_client="lambdalab", architecture="x86_64", dead_letter_target_arn=None, role=None,
               requirements=None, layers=None, runtime="python3.11", tracing=None,
               kms_key_arn=None):
        """Create (or replace) the function ``name`` from Python source text; returns a ``Function``.

        ``handler`` names the function in ``source`` (Lambda's handler setting becomes
        ``lambda_function.<handler>``). Limits are Lambda's; a bad value raises
        ``InvalidParameterValueException`` (a ``ValueError``) before anything starts.
        ``runtime_client="awslambdaric"`` runs AWS's own runtime interface client instead of lambdalab's.
        ``dead_letter_target_arn`` (an SQS queue or SNS topic) receives asynchronous events that
        failed for good (``DeadLetterConfig``); ``fn.put_event_invoke_config(...)`` sets retries,
        event age and destinations.
        ``role`` is the execution role (``Role``): an IAM role's ARN or name, created through the
        lab's IAM (``lab.aws.client("iam")`` or ``lab.iam.create_role``) with a trust policy for
        ``lambda.amazonaws.com``; every AWS call of the function is authorized against it. Without
        one, the function gets the lab's default role, which allows everything.
        ``requirements`` (``"requests==2.32.3 pillow"``, a list, or a requirements.txt path) are
        installed into the package as Lambda's build instructions install them (wheels for the
        environments' platform, cached); ``layers`` (at most 5 ``NAME:VERSION`` or layer version
        ARNs of ``publish_layer``) are extracted in order into ``/opt``.
        ``tracing="Active"`` (``TracingConfig``) traces every invocation in the lab's X-Ray (``lab.traces``).
        ``runtime="provided.al2023"`` makes a custom runtime: ``source`` is then the package's
        ``bootstrap`` executable (a script with its ``#!`` line), which must speak the Runtime API
        itself; ``handler`` is whatever it reads from ``_HANDLER``.
        ``kms_key_arn`` (``KMSKeyArn``) is the customer managed KMS key of the environment
        variables, which ``GetFunctionConfiguration`` shows (``iam.secrets.encrypt_variable``
        encrypts a value with a key as the console's encryption helpers do).
        """
        self._check_open()
        if role is not None and isinstance(role, str) and not role.startswith("arn:"):
            role = f"arn:aws:iam::{self.account_id}:role/{role}"
        if role is not None and getattr(self, "iam", None) is not None:
            self.iam.check_role(role)   # InvalidParameterValueException, as CreateFunction answers
        # A new version of the code keeps the asynchronous settings, as UpdateFunctionCode does.
        previous = self.service.get(name).config if name in self.functions else None
        config = FunctionConfiguration(
            name=name, source=source, handler=handler, memory_mb=memory_mb, timeout_s=timeout_s,
            environment=dict(env) if isinstance(env, collections.abc.Mapping) else (env or {}),
            ephemeral_storage_mb=ephemeral_storage_mb,
            reserved_concurrency=reserved_concurrency, provisioned_concurrency=provisioned_concurrency,
            runtime_client="provided" if runtime in CUSTOM_RUNTIMES else runtime_client,
            architecture=architecture, runtime=runtime,
            dead_letter_target_arn=dead_letter_target_arn or (previous and previous.dead_letter_target_arn),
            event_invoke_config=previous.event_invoke_config if previous else None, role=role,
            tracing_mode=tracing or "PassThrough", kms_key_arn=kms_key_arn or None,
            **self._package(requirements, layers))
        self.service.put_function(config)
        fn = self.functions.get(name) or Function(self, name)
        self.functions[name] = fn
        return fn

    def deploy_image(self, name, dockerfile, files=None, *, memory_mb=128, timeout_s=3, env=None,
                     ephemeral_storage_mb=512, reserved_concurrency=None, provisioned_concurrency=0, role=None):
        """A container-image function (``PackageType: Image``): ``dockerfile`` is built with ``files``
        (name -> text or bytes) as its context, ``FROM ${LAMBDA_RUNTIME_IMAGE}`` (the lab's runtime
        image, passed as that build argument), and its ``CMD`` names the handler. Docker backend only.

        >>> fn = lab.deploy_image("img", "ARG LAMBDA_RUNTIME_IMAGE\nFROM ${LAMBDA_RUNTIME_IMAGE}\n"
        ...                       "COPY app.py /var/task/\nCMD [\"app.handler\"]\n",
        ...                       {"app.py": "def handler(e, c):\n    return 'from an image'\n"})  # doctest: +SKIP
        """
        self._check_open()
        if self.backend.name != "docker":
            raise InvalidParameterValueException(
                "Container image functions need the Docker backend (this lab runs functions as processes).")
        import hashlib as _hashlib
        from .packaging.images import build_function_image
        from .runtime.docker import LABEL
        digest = _hashlib.sha256(repr((dockerfile, sorted((files or {}).items()), self.backend.image)).encode())
        image = build_function_image(self.backend.client, dockerfile, files, base_image=self.backend.image,
                                     tag=f"lambdalab-function/{name.lower()}:{digest.hexdigest()[:12]}",
                                     labels={f"{LABEL}.function-image": name})
        if role is not None and isinstance(role, str) and not role.startswith("arn:"):
            role = f"arn:aws:iam::{self.account_id}:role/{role}"
        config = FunctionConfiguration(
            name=name, source="", memory_mb=memory_mb, timeout_s=timeout_s,
            environment=dict(env) if isinstance(env, collections.abc.Mapping) else (env or {}),
            ephemeral_storage_mb=ephemeral_storage_mb, reserved_concurrency=reserved_concurrency,
            provisioned_concurrency=provisioned_concurrency, role=role, package_type="Image", image=image)
        self.service.put_function(config)
        fn = self.functions.get(name) or Function(self, name)
        self.functions[name] = fn
        return fn

    def _package(self, requirements, layers):
        """The configuration fields of a package's requirements and layers (checked as Lambda checks)."""
        from .packaging import parse_requirements
        versions = self.layers.resolve(layers)
        return {"requirements": tuple(parse_requirements(requirements)) if requirements else (),
                "layers": tuple(v.arn for v in versions), "opt_dir": self.layers.opt_folder(versions)}

    @property
    def layers(self):
        """The lab's layers (``packaging.LayerStore``): ``publish_layer`` adds versions."""
        store = getattr(self, "_layers", None)
        if store is None:
            from .packaging import LayerStore
            store = self._layers = LayerStore(os.path.join(self.workdir, "layers"), region=self.region,
                                              account_id=self.account_id)
            self.aws.lambda_app.control.layers = store
        return store

    def publish_layer(self, name, content, *, description="", compatible_runtimes=("python3.11",)):
        """``PublishLayerVersion``: a new version of layer ``name`` from ``content`` (a folder, or a
        mapping of paths in the layer to contents: ``{"python/util.py": "..."}``); returns the
        ``LayerVersion`` (``.arn``, ``.version``, ``.code_size``). Files under ``python/`` import in
        the function, ``bin/`` is on its PATH, ``lib/`` on its LD_LIBRARY_PATH.

        >>> v = lab.publish_layer("shared", {"python/shared.py": "GREETING = 'hi'"})   # doctest: +SKIP
        >>> fn = lab.deploy("f", "from shared import GREETING\ndef handler(e, c): return GREETING",
        ...                 layers=[v.arn])                                            # doctest: +SKIP
        """
        self._check_open()
        return self.layers.publish(name, content, description=description, compatible_runtimes=compatible_runtimes)

    def powertools_layer(self):
        """Powertools for AWS Lambda (Python) as a layer of this lab (``packaging.powertools``): its
        ``LayerVersion``, to pass in ``deploy(..., layers=[lab.powertools_layer().arn])``."""
        self._check_open()
        from .packaging.powertools import publish_powertools_layer
        return publish_powertools_layer(self.layers)

    def create_event_source_mapping(self, function_name, event_source_arn, **options):
        """``CreateEventSourceMapping`` from a cell: Lambda polls ``event_source_arn`` (an SQS queue)
        and invokes ``function_name`` with batches of its messages. ``options`` are the API's own
        names (``BatchSize``, ``MaximumBatchingWindowInSeconds``, ``FunctionResponseTypes``,
        ``ScalingConfig``, ``Enabled``); returns what boto3 returns (``UUID``, ``State`` "Creating"...).
        List, get, update and delete it with ``lab.aws.client("lambda")``, as on AWS.

        >>> queue = lab.aws.client("sqs").create_queue(QueueName="jobs")                        # doctest: +SKIP
        >>> arn = lab.aws.client("sqs").get_queue_attributes(QueueUrl=queue["QueueUrl"],        # doctest: +SKIP
        ...                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        >>> lab.create_event_source_mapping("worker", arn, BatchSize=10,                         # doctest: +SKIP
        ...                                 FunctionResponseTypes=["ReportBatchItemFailures"])["State"]
        'Creating'
        """
        self._check_open()
        from .sources.mappings import api_timestamps
        params = {"FunctionName": function_name, "EventSourceArn": event_source_arn, **options}
        return api_timestamps(self._event_source_mappings.create(params))

    def invoke(self, name, event=None, *, invocation_type="RequestResponse", client_context=None,
               cognito_identity=None, on_log=None):
        """Invoke the function ``name`` (see ``Function.invoke``)."""
        self._check_open()
        if invocation_type == "RequestResponse":
            return self.service.invoke(name, event, client_context=client_context,
                                       cognito_identity=cognito_identity, on_log=on_log)
        request = InvocationRequest(function_name=name, payload=encode_event(event), invocation_type=invocation_type,
                                    client_context=client_context, cognito_identity=cognito_identity)
        self.service.get(name)                      # ResourceNotFoundException for every type
        if invocation_type == "DryRun":
            return AcceptedInvocation(name, request.request_id, "DryRun", 204)
        return AcceptedInvocation(name, self.async_queue.submit(request), "Event", 202)

    def serve_http(self, function_name, kind="http", host="127.0.0.1", port=0, **options):
        """Serve the function over HTTP on this machine, as ``sam local start-api`` does: each real
        request becomes the event of an API Gateway HTTP API (``kind="http"``, payload 2.0), a REST
        API (``"rest"``, payload 1.0, proxy integration, served under its stage, ``/prod``) or a
        function URL (``"url"``), and the function's answer becomes the HTTP response as each front
        door makes it. Returns an ``HttpEndpoint`` with ``.url``, ``.access_log`` and ``.close()``;
        the lab closes it too. ``options``: ``stage``, ``binary_media_types`` (REST),
        ``integration_timeout_s``, ``idle_timeout_s``, ``request_timeout_s``, ``max_connections``
        (see ``lambdalab_ext.sources.http_api``).

        >>> api = lab.serve_http("hello", kind="http")                          # doctest: +SKIP
        >>> urllib.request.urlopen(api.url + "/?name=Ada").read()               # doctest: +SKIP
        b'{"greeting": "hello Ada"}'
        """
        self._check_open()
        from .sources.http_api import HttpEndpoint
        endpoint = HttpEndpoint(self.service, function_name, kind, host, port, region=self.region,
                                account_id=self.account_id, **options)
        self._sources.append(endpoint)
        return endpoint

    def _check_open(self):
        if self._closed:
            raise LabClosedError()

    def shutdown(self):
        """Stop every environment and remove every container, network, process and file of this lab.

        Returns how many asynchronous events were still queued: they are lost, as in any local tool
        (on AWS they would still run), and the lab says so.
        """
        with self._lock:
            if self._closed:
                return 0
            self._closed = True
        lost = self._finalizer() or 0
        atexit.unregister(self._finalizer)
        if lost:
            print(f"lambdalab: {lost} asynchronous event{'s were' if lost != 1 else ' was'} still queued "
                  "and {} lost with the lab.".format("are" if lost != 1 else "is"), file=sys.stderr)
        return lost

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def __repr__(self):
        state = "shut down" if self._closed else f"{len(self.functions)} functions"
        return f"<Lab {self.id}: {self.backend.name} backend, {state}>"
