"""Powertools for AWS Lambda (Python), offered as a layer, as AWS offers it.

AWS publishes Powertools as public layers (``arn:aws:lambda:REGION:017000801446:layer:
AWSLambdaPowertoolsPythonV3-python311-x86_64:VERSION``, "Installation" in Powertools' documentation).
The lab publishes a layer of the same name in its own account, built without a registry when it can:
from the copy installed in the lab's own environment (pure Python, and the lab's Python is the
runtime's 3.11), else installed for Lambda's platform by ``dependencies.install_requirements`` from
pip's index. The layer holds ``aws_lambda_powertools`` and what its core needs beyond the runtime
(``typing_extensions``; ``jmespath`` and ``boto3`` come with Lambda's Python runtime, as here).
"""

import importlib.metadata
import os
import shutil
import tempfile

LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python311-x86_64"
DISTRIBUTIONS = ("aws-lambda-powertools", "typing-extensions")


def _installed_files(name):
    """(root, files) of an installed distribution, or None."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return str(dist.locate_file("")), [str(f) for f in dist.files or ()
                                       if "__pycache__" not in str(f) and not str(f).startswith("..")]


def layer_content(cache=None):
    """A folder laid out as the layer (``python/...``); the caller removes it."""
    folder = tempfile.mkdtemp(prefix="lambdalab-powertools-")
    target = os.path.join(folder, "python")
    os.makedirs(target)
    found = [_installed_files(name) for name in DISTRIBUTIONS]
    if all(found):
        for root, files in found:
            for relative in files:
                source = os.path.join(root, relative)
                if os.path.isfile(source):
                    os.makedirs(os.path.dirname(os.path.join(target, relative)), exist_ok=True)
                    shutil.copy2(source, os.path.join(target, relative))
    else:
        from .dependencies import install_requirements
        shutil.copytree(install_requirements(["aws-lambda-powertools"], cache=cache), target, dirs_exist_ok=True)
    return folder


def publish_powertools_layer(store):
    """The lab's Powertools layer version (published once per lab: the latest is reused)."""
    versions = store.versions(LAYER_NAME)
    if versions:
        return versions[-1]
    folder = layer_content()
    try:
        return store.publish(LAYER_NAME, folder, description="Powertools for AWS Lambda (Python), as AWS's layer")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
