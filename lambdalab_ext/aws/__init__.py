"""The embedded AWS: moto's services and the lab's own Lambda API behind one local endpoint."""

from .endpoint import AWSEndpoint, service_of

__all__ = ["AWSEndpoint", "service_of"]
