"""The labs app's models: jobs and their records, this installation, share links, image rules and
the fleet, one module each. The stored labs themselves are in `labs.store`."""

from labs.store.models import Lab, LabStatus, Link, Network, Node

from .fleet import LabHost, StitchVni
from .images import ImageRule
from .installation import Installation, _new_installation_key  # noqa: F401 (migration 0005 names it here)
from .jobs import Capture, LabEvent, Operation
from .sharing import ShareLink

__all__ = [
    "Capture",
    "ImageRule",
    "Installation",
    "Lab",
    "LabEvent",
    "LabHost",
    "LabStatus",
    "Link",
    "Network",
    "Node",
    "Operation",
    "ShareLink",
    "StitchVni",
]  # fmt: skip
