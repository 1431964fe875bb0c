"""A packet's journey through a lab, traced hop by hop (`tracing.trace`): the probe, the capture
at every interface, and the assembly of what was seen into hops."""

from .tracing import trace

__all__ = ["trace"]
