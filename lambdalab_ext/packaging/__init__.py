"""Deployment packages: a function's dependencies (``dependencies``), layers (``layers``) and the
package's size as Lambda counts it (``sizes``)."""

from .dependencies import install_requirements, parse_requirements
from .layers import LayerStore, LayerVersion
from .sizes import check_package, package_size

__all__ = ["install_requirements", "parse_requirements", "LayerStore", "LayerVersion", "check_package",
           "package_size"]
