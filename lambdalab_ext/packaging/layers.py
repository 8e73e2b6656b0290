"""Lambda layers: named, versioned bundles of files that a function sees under ``/opt``.

As "Managing Lambda dependencies with layers" (Lambda Developer Guide) describes them: each
``PublishLayerVersion`` makes a new, immutable version (1, 2, 3...) with its own ARN
``arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION``; a function takes at most 5 layer versions, in
order, and Lambda extracts them into ``/opt`` in that order (a later layer's file replaces an earlier
one's). Python finds ``/opt/python`` (and ``/opt/python/lib/python3.11/site-packages``) on its path,
``/opt/bin`` is on ``PATH`` and ``/opt/lib`` on ``LD_LIBRARY_PATH``. The function's code and all its
layers together must stay under 250 MB unzipped (``package_size``).

The lab keeps each version as a folder (what Lambda would extract) and builds, once per ordered list
of versions, the ``/opt`` tree a function's environments mount read-only.

>>> store = LayerStore("/tmp/layers", region="us-east-1", account_id="123456789012")   # doctest: +SKIP
>>> v = store.publish("shared", {"python/shared.py": "GREETING = 'hi'\\n"})              # doctest: +SKIP
>>> v.arn                                                                                # doctest: +SKIP
'arn:aws:lambda:us-east-1:123456789012:layer:shared:1'
"""

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time

from ..errors import InvalidParameterValueException, ResourceNotFoundException
from ..limits import MAX_LAYERS
from .sizes import package_size

LAYER_NAME = re.compile(r"[a-zA-Z0-9-_]{1,140}")
LAYER_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]{1,140}):(\d+)")


@dataclasses.dataclass(frozen=True)
class LayerVersion:
    """One published version, as ``PublishLayerVersion`` answers (``as_api()``)."""

    name: str
    version: int
    arn: str
    folder: str
    description: str
    compatible_runtimes: tuple
    created: str
    code_sha256: str
    code_size: int               # zipped, as Lambda reports CodeSize
    unzipped_size: int

    @property
    def layer_arn(self):
        return self.arn.rsplit(":", 1)[0]

    def as_api(self):
        return {"LayerArn": self.layer_arn, "LayerVersionArn": self.arn, "Version": self.version,
                "Description": self.description, "CreatedDate": self.created,
                "CompatibleRuntimes": list(self.compatible_runtimes),
                "Content": {"CodeSha256": self.code_sha256, "CodeSize": self.code_size}}


class LayerStore:
    """The layers of one lab (``Lab.publish_layer``), kept under ``root``."""

    def __init__(self, root, *, region, account_id):
        self.root = root
        self.region, self.account_id = region, account_id
        self._versions = {}          # name -> [LayerVersion]
        self._lock = threading.Lock()
        os.makedirs(root, exist_ok=True)

    def publish(self, name, content, *, description="", compatible_runtimes=("python3.11",)):
        """A new version of layer ``name`` from ``content``: a folder (copied) or a mapping of paths
        inside the layer to text or bytes (``{"python/util.py": "..."}``)."""
        if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{name}' at 'layerName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+")
        staging = tempfile.mkdtemp(prefix=f".{name}.", dir=self.root)
        try:
            if isinstance(content, (str, os.PathLike)):
                if not os.path.isdir(content):
                    raise InvalidParameterValueException(f"layer content {content!r} is not a folder")
                shutil.copytree(content, staging, dirs_exist_ok=True, symlinks=True)
            elif isinstance(content, dict):
                for path, data in content.items():
                    target = os.path.normpath(os.path.join(staging, path))
                    if not target.startswith(staging + os.sep):
                        raise InvalidParameterValueException(f"layer path {path!r} leaves the layer")
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as f:
                        f.write(data.encode() if isinstance(data, str) else bytes(data))
            else:
                raise InvalidParameterValueException("layer content is a folder or a mapping of paths to contents")
            for folder, dirs, files in os.walk(staging):      # readable by the sandbox's user
                os.chmod(folder, 0o755)
                for file in files:
                    path = os.path.join(folder, file)
                    if not os.path.islink(path):
                        os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
            zipped, unzipped, digest = package_size([staging], digest=True)
            with self._lock:
                versions = self._versions.setdefault(name, [])
                number = len(versions) + 1
                folder = os.path.join(self.root, name, str(number))
                os.makedirs(os.path.dirname(folder), exist_ok=True)
                os.rename(staging, folder)
                staging = None
                version = LayerVersion(
                    name=name, version=number, folder=folder, description=description,
                    arn=f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:{number}",
                    compatible_runtimes=tuple(compatible_runtimes),
                    created=time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
                    code_sha256=base64.b64encode(digest).decode(), code_size=zipped, unzipped_size=unzipped)
                versions.append(version)
            return version
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def get(self, reference):
        """The version ``reference`` names: an ARN with its version, or ``NAME:VERSION``."""
        match = LAYER_ARN.fullmatch(str(reference))
        if match:
            name, number = match.group(3), int(match.group(4))
        elif isinstance(reference, str) and reference.count(":") == 1:
            name, _, number = reference.partition(":")
            number = int(number) if number.isdigit() else -1
        else:
            raise InvalidParameterValueException(
                f"Layer {reference!r} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION) "
                "or NAME:VERSION.")
        with self._lock:
            versions = self._versions.get(name, [])
        if not 1 <= number <= len(versions):
            raise ResourceNotFoundException(f"Layer version arn:aws:lambda:{self.region}:{self.account_id}:layer:"
                                            f"{name}:{number} does not exist.")
        return versions[number - 1]

    def versions(self, name):
        with self._lock:
            return list(self._versions.get(name, []))

    def resolve(self, references):
        """The versions a function's ``Layers`` name, checked as CreateFunction checks them."""
        references = list(references or [])
        if len(references) > MAX_LAYERS:
            raise InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers.")
        versions = [self.get(r) for r in references]
        names = [v.name for v in versions]
        if len(set(names)) != len(names):
            raise InvalidParameterValueException("Two different versions of the same layer are not allowed.")
        return versions

    def opt_folder(self, versions):
        """The ``/opt`` tree of ``versions`` extracted in order (built once per list of versions)."""
        if not versions:
            return None
        key = hashlib.sha256(json.dumps([v.arn for v in versions]).encode()).hexdigest()[:16]
        folder = os.path.join(self.root, ".opt", key)
        with self._lock:
            if not os.path.isdir(folder):
                staging = tempfile.mkdtemp(prefix=f"{key}.", dir=os.path.dirname(folder) if os.path.isdir(
                    os.path.dirname(folder)) else _makedirs(os.path.dirname(folder)))
                for version in versions:           # a later layer's file replaces an earlier one's
                    shutil.copytree(version.folder, staging, dirs_exist_ok=True, symlinks=True)
                os.chmod(staging, 0o755)
                os.rename(staging, folder)
        return folder


def _makedirs(path):
    os.makedirs(path, exist_ok=True)
    return path
