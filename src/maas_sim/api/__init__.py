"""The API handlers maas-sim serves, in routing order."""

from __future__ import annotations

from .general import DescribeHandler, UserHandler, UsersHandler, VersionHandler
from .machines import MachineHandler, MachinesHandler
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
    MachinesHandler,
    MachineHandler,
]
