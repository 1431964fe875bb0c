"""The topology as Django models: labs, nodes, interfaces, networks, links and ports."""

from .lab import Lab, LabStatus
from .network import Link, Network
from .node import Interface, Node, PortMapping

__all__ = ["Interface", "Lab", "LabStatus", "Link", "Network", "Node", "PortMapping"]
