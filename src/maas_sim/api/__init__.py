"""The API handlers maas-sim serves, in routing order.

One module per MAAS resource, named like MAAS's ``maasserver/api/<name>.py`` (collection and object
handler together); ``common.py`` holds what several of them share.
"""

from __future__ import annotations

from .dnsresources import DNSResourceHandler, DNSResourcesHandler
from .doc_handler import DescribeHandler
from .domains import DomainHandler, DomainsHandler
from .gone import GONE_HANDLERS
from .fabrics import FabricHandler, FabricsHandler
from .interfaces import InterfaceHandler, InterfacesHandler
from .ip_addresses import IPAddressesHandler
from .ipranges import IPRangeHandler, IPRangesHandler
from .machines import MachineHandler, MachinesHandler
from .pods import PodHandler, PodsHandler, VmHostHandler, VmHostsHandler
from .resourcepools import ResourcePoolHandler, ResourcePoolsHandler
from .subnets import SubnetHandler, SubnetsHandler
from .tags import TagHandler, TagsHandler
from .users import UserHandler, UsersHandler
from .version import VersionHandler
from .vlans import FabricVlanHandler, VlanHandler, VlansHandler
from .zones import ZoneHandler, ZonesHandler

HANDLERS = [
    VersionHandler,
    DescribeHandler,
    UsersHandler,
    UserHandler,
    ZonesHandler,
    ZoneHandler,
    ResourcePoolsHandler,
    ResourcePoolHandler,
    TagsHandler,
    TagHandler,
    DomainsHandler,
    DomainHandler,
    FabricsHandler,
    FabricHandler,
    VlansHandler,
    FabricVlanHandler,
    VlanHandler,
    SubnetsHandler,
    SubnetHandler,
    IPRangesHandler,
    IPRangeHandler,
    IPAddressesHandler,
    DNSResourcesHandler,
    DNSResourceHandler,
    VmHostsHandler,
    VmHostHandler,
    PodsHandler,
    PodHandler,
    MachinesHandler,
    MachineHandler,
    InterfacesHandler,
    InterfaceHandler,
]


def handlers_for(without_vm_hosts: bool) -> list:
    """The handlers of a 3.x MAAS, or of MAAS 4.0 (which also routes the VM cluster and VM stubs)."""
    if not without_vm_hosts:
        return list(HANDLERS)
    position = HANDLERS.index(PodHandler) + 1
    return HANDLERS[:position] + GONE_HANDLERS + HANDLERS[position:]
