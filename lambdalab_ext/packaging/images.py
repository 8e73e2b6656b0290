"""Container-image functions: a Dockerfile ``FROM`` the lab's runtime image, built by the lab.

As "Create a Lambda function using a container image" (Lambda Developer Guide) describes them: the
function's code is in the image (``/var/task``), its ``CMD`` names the handler (``["app.handler"]``),
and the image may be up to 10 GB (uncompressed). Lambda's base images are pulled from a registry;
here the base is the lab's own runtime image (built offline), which a Dockerfile names through the
build argument ``LAMBDA_RUNTIME_IMAGE``::

    ARG LAMBDA_RUNTIME_IMAGE
    FROM ${LAMBDA_RUNTIME_IMAGE}
    COPY app.py /var/task/
    CMD ["app.handler"]

``build_function_image`` builds it with the Docker engine (no registry: ``FROM`` resolves locally),
labels it as the lab's, and returns what a function needs: the image id, its size, its handler.
The lab's runtime client stays the entry point, mounted at run time as for every function, so the
image's own ``ENTRYPOINT`` is not used (the lab says so; Lambda's base images start their runtime
interface client the same way).
"""

import dataclasses
import io
import json
import tarfile

from ..errors import InvalidParameterValueException

IMAGE_MAX_BYTES = 10 * 1024 ** 3            # "Lambda quotas": 10 GB, uncompressed, with all layers
BASE_ARG = "LAMBDA_RUNTIME_IMAGE"


@dataclasses.dataclass(frozen=True)
class FunctionImage:
    image_id: str           # sha256:...
    tag: str
    size: int               # bytes, uncompressed
    handler: str            # the image's CMD, as Lambda reads it
    workdir: str


def _context(dockerfile, files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        entries = {"Dockerfile": dockerfile, **(files or {})}
        for name, data in sorted(entries.items()):
            data = data.encode() if isinstance(data, str) else bytes(data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith((".sh", "bootstrap")) else 0o644
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_function_image(client, dockerfile, files=None, *, base_image, tag, labels=None):
    """Build ``dockerfile`` with ``files`` as its context; ``InvalidParameterValueException`` with the
    builder's own words when it fails, when the image has no CMD, or when it is over 10 GB."""
    import docker
    try:
        image, log = client.images.build(fileobj=_context(dockerfile, files), custom_context=True, tag=tag,
                                         buildargs={BASE_ARG: base_image}, labels=dict(labels or {}),
                                         rm=True, forcerm=True, pull=False, network_mode="none")
    except docker.errors.BuildError as exc:
        said = "\n".join(str(line.get("stream") or line.get("error") or "").strip()
                         for line in exc.build_log if isinstance(line, dict))[-1500:]
        raise InvalidParameterValueException(f"The image could not be built: {exc.msg}\n{said.strip()}") from None
    except docker.errors.APIError as exc:
        raise InvalidParameterValueException(f"The image could not be built: {exc.explanation or exc}") from None
    config = image.attrs.get("Config") or {}
    command = config.get("Cmd") or []
    if not command:
        raise InvalidParameterValueException(
            "The image has no CMD: Lambda reads the handler from it (CMD [\"app.handler\"]).")
    size = int(image.attrs.get("Size") or 0)
    if size > IMAGE_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Image size must be smaller than {IMAGE_MAX_BYTES} bytes (this one is {size:,}: Lambda's 10 GB "
            "limit, uncompressed)")
    return FunctionImage(image_id=image.id, tag=tag, size=size, handler=" ".join(command),
                         workdir=config.get("WorkingDir") or "/var/task")


def image_manifest(image):
    """What GetFunction shows of an image function (``ImageConfigResponse``)."""
    return json.loads(json.dumps({"ImageUri": image.tag, "ResolvedImageUri": f"{image.tag}@{image.image_id}"}))
