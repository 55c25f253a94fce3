"""The API handlers maas-sim serves, in routing order."""

from __future__ import annotations

from .general import DescribeHandler, UserHandler, UsersHandler, VersionHandler
from .interfaces import InterfaceHandler, InterfacesHandler
from .machines import MachineHandler, MachinesHandler
from .network import (
    DNSResourceHandler,
    DNSResourcesHandler,
    FabricHandler,
    FabricsHandler,
    FabricVlanHandler,
    IPAddressesHandler,
    IPRangeHandler,
    IPRangesHandler,
    SubnetHandler,
    SubnetsHandler,
    VlanHandler,
    VlansHandler,
)
from .resources import (
    DomainHandler,
    DomainsHandler,
    ResourcePoolHandler,
    ResourcePoolsHandler,
    TagHandler,
    TagsHandler,
    ZoneHandler,
    ZonesHandler,
)
from .vmhosts import PodHandler, PodsHandler, VmHostHandler, VmHostsHandler

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
