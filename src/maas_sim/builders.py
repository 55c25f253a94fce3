"""Creating objects: ids, names, MAC addresses, machines, interfaces and links.

Used both by the scenario loader and by the API operations that create things
(compose, reserve...), so a machine built from a scenario looks exactly like
one composed over the API. Generated values are deterministic for a given
sequence of operations (seeded from the state's counters).
"""

from __future__ import annotations

import random
import time
import uuid

from . import lookup
from .enums import IPType, NodeStatus
from .model import Interface, Machine, StaticIP, Tag
from .state import State

# ``provisioningserver/utils/znums.py``: base-24 digits without look-alikes.
_ZCHARS = "34678abcdefghkmnpqrstwxy"

_ADJECTIVES = (
    "able", "brave", "calm", "clever", "cool", "eager", "fair", "fast", "fine", "glad", "good", "grand", "happy", "keen",
    "kind", "live", "loyal", "lucky", "merry", "modest", "neat", "nice", "noble", "polite", "proud", "quick", "quiet",
    "rapid", "sharp", "smart", "steady", "sure", "sweet", "tidy", "true", "up", "vital", "warm", "wise", "witty",
)
_ANIMALS = (
    "ant", "bass", "bear", "bee", "boar", "buck", "calf", "cat", "cod", "colt", "crab", "crow", "deer", "dodo", "doe",
    "dog", "dove", "duck", "eel", "elk", "emu", "fawn", "finch", "fish", "foal", "fox", "frog", "gnat", "goat", "hare",
    "hawk", "hen", "ibex", "jay", "kid", "kit", "koi", "lamb", "lark", "lion", "lynx", "mink", "mole", "moth", "mule",
    "newt", "owl", "ox", "pig", "pup", "ram", "ray", "seal", "slug", "swan", "toad", "trout", "wasp", "wolf", "worm", "wren", "yak",
)


def _rng(state: State, purpose: str) -> random.Random:
    """A generator seeded from a per-purpose counter (deterministic, never repeating a seed)."""
    return random.Random(f"{purpose}:{state.next_id('seed:' + purpose)}")


def new_system_id(state: State) -> str:
    """A free six-character system id (``generate_node_system_id``)."""
    rng = _rng(state, "system_id")
    while True:
        number = rng.randrange(24**5, 24**6)
        digits = []
        while number:
            number, rem = divmod(number, 24)
            digits.append(_ZCHARS[rem])
        system_id = "".join(reversed(digits))
        if state.get("machine", system_id) is None:
            return system_id


def petname(state: State) -> str:
    """A free two-word hostname like MAAS's ``petname`` ones."""
    rng = _rng(state, "petname")
    while True:
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}"
        if lookup.machine_by_hostname(state, name) is None:
            return name


def new_mac(state: State) -> str:
    """A fresh MAC address in LXD's 00:16:3e prefix."""
    value = state.next_id("mac")
    return "00:16:3e:%02x:%02x:%02x" % ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)


def ensure_tag(state: State, name: str, **fields) -> Tag:
    """The tag ``name``, created when missing (``Tag.objects.get_or_create``)."""
    tag = lookup.tag_named(state, name)
    if tag is None:
        tag = Tag(id=state.next_id("tag"), name=name, **fields)
        state.add(tag)
    return tag


def create_machine(state: State, *, hostname: str | None = None, status: int = NodeStatus.READY, **fields) -> Machine:
    """A machine with a fresh system id (and a pet name unless ``hostname`` is given)."""
    fields.setdefault("domain_id", lookup.default_domain(state).id)
    fields.setdefault("zone_id", lookup.default_zone(state).id)
    fields.setdefault("pool_id", lookup.default_pool(state).id)
    machine = Machine(
        system_id=new_system_id(state),
        hostname=hostname or petname(state),
        status=status,
        hardware_uuid=str(uuid.UUID(int=_rng(state, "uuid").getrandbits(128), version=4)),
        created=time.time(),
        id=state.next_id("node"),
        **fields,
    )
    for tag in machine.tags:
        ensure_tag(state, tag)
    state.add(machine)
    return machine


def add_disk(state: State, machine: Machine, size: int, pool: str | None = None, tags=()) -> dict:
    """Append a block device (``sda``, ``sdb``...) of ``size`` bytes."""
    index = len(machine.disks)
    name = "sd" + (chr(ord("a") + index) if index < 26 else f"a{index}")
    disk = {"id": state.next_id("blockdevice"), "name": name, "size": int(size), "tags": list(tags), "pool": pool}
    machine.disks.append(disk)
    state.touch(machine)
    return disk


def create_interface(state: State, machine: Machine | None, name: str, vlan_id: int | None, mac: str | None = None, **fields) -> Interface:
    """An interface on ``machine`` (or a node-less ``unknown`` interface when machine is None)."""
    interface = Interface(
        id=state.next_id("interface"),
        system_id=machine.system_id if machine is not None else None,
        name=name,
        mac_address=mac or new_mac(state),
        vlan_id=vlan_id,
        **fields,
    )
    state.add(interface)
    if machine is not None and machine.boot_interface_id is None:
        machine.boot_interface_id = interface.id
        state.touch(machine)
    return interface


def create_ip(state: State, alloc_type: int, ip: str | None, subnet_id: int | None, user_id: int | None = None,
              interface_id: int | None = None) -> StaticIP:
    """A ``StaticIPAddress`` row (an address and/or an interface link)."""
    now = time.time()
    sip = StaticIP(
        id=state.next_id("staticip"),
        alloc_type=alloc_type,
        ip=ip,
        subnet_id=subnet_id,
        user_id=user_id,
        interface_id=interface_id,
        created=now,
        updated=now,
    )
    state.add(sip)
    return sip


def link(state: State, interface: Interface, mode: str, subnet, ip: str | None = None, user_id: int | None = None) -> StaticIP:
    """Link an interface to a subnet in ``mode`` (auto, dhcp, static, link_up) without validation."""
    alloc_type = {"auto": IPType.AUTO, "dhcp": IPType.DHCP, "static": IPType.STICKY, "link_up": IPType.STICKY}[mode]
    if interface.vlan_id is None and subnet is not None:
        interface.vlan_id = subnet.vlan_id
        state.touch(interface)
    return create_ip(state, alloc_type, ip if mode in ("auto", "static") else None, subnet.id if subnet else None, user_id, interface.id)
