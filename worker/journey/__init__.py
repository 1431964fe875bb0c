"""A packet's journey through a lab, traced hop by hop (`tracing.trace`): the probe, the capture
at every interface, and the assembly of what was seen into hops."""

from .capture import keep_timestamps_on
from .tracing import trace

__all__ = ["keep_timestamps_on", "trace"]
