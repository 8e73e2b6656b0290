"""How big a deployment package is, as Lambda counts it: zipped (what is uploaded: 50 MB for a .zip
sent directly) and unzipped (code and every layer together: 250 MB, "Lambda quotas").

The zipped size is measured, not estimated: the folders are written as one deflated .zip (entries in
sorted order, timestamps fixed, so the same files always give the same archive and the same
``CodeSha256``) into a sink that only counts and hashes; nothing is stored.
"""

import hashlib
import os
import zipfile

from ..errors import InvalidParameterValueException
from ..limits import PACKAGE_UNZIPPED_MAX_BYTES


class _Sink:
    """A write-only file that counts and hashes what it is given."""

    def __init__(self):
        self.size = 0
        self.sha256 = hashlib.sha256()

    def write(self, data):
        self.size += len(data)
        self.sha256.update(data)
        return len(data)

    def flush(self):
        pass

    def tell(self):
        return self.size


def _files(folders):
    for root in folders:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path, os.path.relpath(path, root)


def unzipped_size(folders):
    """The bytes of every file under ``folders`` (what Lambda counts unzipped)."""
    return sum(os.path.getsize(path) for path, _ in _files(folders))


def package_size(folders, *, digest=False):
    """(zipped bytes, unzipped bytes) of ``folders`` as one package, plus the archive's SHA-256 when
    ``digest``."""
    sink = _Sink()
    unzipped = 0
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path, name in _files(folders):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            unzipped += os.path.getsize(path)
            with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while True:
                    block = source.read(1 << 20)
                    if not block:
                        break
                    target.write(block)
    if digest:
        return sink.size, unzipped, sink.sha256.digest()
    return sink.size, unzipped


def check_package(unzipped_total):
    """Lambda's check of a function's package: its code and all its layers, unzipped, under 250 MB.
    (Over 50 MB zipped, AWS takes the .zip only through S3; the lab has no upload, and says so in the
    configuration's ``CodeSize`` rather than refusing.)"""
    if unzipped_total >= PACKAGE_UNZIPPED_MAX_BYTES:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {PACKAGE_UNZIPPED_MAX_BYTES} bytes")
