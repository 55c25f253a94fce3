# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LXD instance definition of a VM, as MAAS writes it when it composes one, plus lxdcp.maas's marks.

MAAS 3.7's LXD driver (``src/provisioningserver/drivers/pod/lxd.py``: ``get_lxd_machine_definition``,
``_get_machine_disks``, ``_get_machine_nics``, ``get_lxd_nic_device``; pylxd's ``VirtualMachine``
adds ``type``) sends ``POST /1.0/instances`` with:

- ``type: virtual-machine``, ``source: {type: none}`` (no image: the VM netboots from MAAS),
  ``profiles: ["maas"]`` when that profile exists, else none at all (not even ``default``);
- config ``limits.cpu`` (a count, or pinned cores ``"3-3"`` / ``"0,2"``), ``limits.memory`` in
  bytes, ``limits.memory.hugepages`` ``"true"``/``"false"``, ``security.secureboot: "false"``;
- devices: ``root`` ``{type: disk, path: /, pool, size (bytes), boot.priority: "0"}``; further
  disks ``disk<N>`` ``{type: disk, pool, source: <custom block volume>}`` (MAAS creates the volume
  first, and also sends ``path: ""``, which LXD drops); NICs ``eth<N>`` ``{type: nic, name,
  nictype: bridged, parent}``, the first one with ``boot.priority: "1"``, ``vlan`` when tagged.

MAAS sets ``hwaddr`` only on SR-IOV NICs and reads the others' MAC from ``volatile.<nic>.hwaddr``,
which LXD fills when it creates the instance; here ``hwaddr`` may be given for any NIC (a MAC known
before the VM exists, to register it in MAAS). The collection adds its ownership marks
(``ownership.instance_marks``) as ``user.lxdcp.*`` config keys.
"""

from __future__ import annotations

import random

from ansible_collections.lxdcp.maas.plugins.module_utils.lxd.errors import LxdConfigError
from ansible_collections.lxdcp.maas.plugins.module_utils.names import hostname_error

VIRTUAL_MACHINE = "virtual-machine"
MAAS_PROFILE = "maas"
# What MAAS's driver requires of an LXD server (LXD_REQUIRED_EXTENSIONS, LXD 4.16 or later).
REQUIRED_EXTENSIONS = ("projects", "virtual-machines", "custom_block_volumes")
MIB = 1024 ** 2
# The prefix LXD gives the MACs it generates (volatile.<nic>.hwaddr).
LXD_MAC_PREFIX = "00:16:3e"


def vm_definition(name, cores, memory_mib, disks, nics, storage_pool=None, profiles=(), config_keys=None,
                  architecture=None, hugepages=False):
    """The ``POST /1.0/instances`` body of a VM, shaped as MAAS's LXD driver shapes it.

    ``cores``: a count, or a list of host CPU numbers to pin. ``memory_mib``: MiB. ``disks``: the root
    disk first, each a size in bytes or ``{"size": bytes, "pool": name}``; further disks name a
    custom block volume (``{"volume": name, "pool": name}``, see ``LxdClient.create_volume``).
    ``nics``: each a bridge name or ``{"parent": bridge, "hwaddr": mac, "name": ifname,
    "nictype": "bridged", "vlan": vid}``. ``storage_pool``: the pool of disks that name none.
    ``profiles``: ``["maas"]`` when LXD has that profile (``LxdClient.vm_profiles``), else none.
    ``config_keys``: more config, for example ``ownership.instance_marks(cluster, hostname)``; it
    may not replace a key of the definition. Raises LxdConfigError for bad input.
    """
    problem = hostname_error(name, what="instance name")
    if not problem and name[0].isdigit():
        problem = "instance name %r starts with a digit, which LXD refuses (\"Name must not start with a number\")" % name
    if problem:
        raise LxdConfigError(problem)
    config = {
        "limits.cpu": cpu_limit(cores),
        "limits.memory": str(_positive_int(memory_mib, "memory_mib") * MIB),
        "limits.memory.hugepages": "true" if hugepages else "false",
        # MAAS: "LP: 1867387 - Disable secure boot until its fixed in MAAS".
        "security.secureboot": "false",
    }
    for key, value in sorted((config_keys or {}).items()):
        if key in config:
            raise LxdConfigError("config key %r is part of the VM definition (cores, memory) and cannot be given in "
                                 "config_keys" % key)
        if not isinstance(value, str):
            raise LxdConfigError("config key %r must be a string (LXD stores config as strings), not %r" % (key, value))
        config[key] = value
    definition = {
        "name": name,
        "type": VIRTUAL_MACHINE,
        "source": {"type": "none"},
        "profiles": list(profiles or ()),
        "config": config,
        "devices": dict(disk_devices(disks, storage_pool), **nic_devices(nics)),
    }
    if architecture:
        definition["architecture"] = architecture
    return definition


def cpu_limit(cores):
    """``limits.cpu`` for a count (``"2"``) or a list of pinned host CPUs (``"3-3"`` for one, ``"0,2"`` for several)."""
    if isinstance(cores, (list, tuple)):
        pinned = [_non_negative_int(core, "pinned core") for core in cores]
        if not pinned:
            raise LxdConfigError("cores is an empty list of pinned CPUs; give a count or at least one CPU number")
        if len(pinned) == 1:
            return "%d-%d" % (pinned[0], pinned[0])
        return ",".join(str(core) for core in pinned)
    return str(_positive_int(cores, "cores"))


def disk_devices(disks, storage_pool=None):
    """The disk devices: ``root`` (boot priority 0, sized) and ``disk1``... (custom block volumes)."""
    if not disks:
        raise LxdConfigError("a VM needs a root disk: give disks a first entry with its size in bytes")
    devices = {}
    for index, disk in enumerate(disks):
        disk = disk if isinstance(disk, dict) else {"size": disk}
        pool = disk.get("pool") or storage_pool
        if not pool:
            raise LxdConfigError("disk %d names no storage pool and no storage_pool was given" % index)
        if index == 0:
            devices["root"] = {"type": "disk", "path": "/", "pool": pool,
                               "size": str(_positive_int(disk.get("size"), "root disk size")), "boot.priority": "0"}
            continue
        if not disk.get("volume"):
            raise LxdConfigError("disk %d is not the root disk: it must name a custom block volume (volume) created "
                                 "first in pool %s" % (index, pool))
        devices["disk%d" % index] = {"type": "disk", "pool": pool, "source": disk["volume"]}
    return devices


def nic_devices(nics):
    """The NIC devices ``eth0``... (names given are kept; the first NIC boots, priority 1)."""
    if not nics:
        raise LxdConfigError("a VM needs at least one NIC: MAAS netboots it over the first one")
    nics = [nic if isinstance(nic, dict) else {"parent": nic} for nic in nics]
    taken = {nic["name"] for nic in nics if nic.get("name")}
    devices = {}
    counter = 0
    for index, nic in enumerate(nics):
        if not nic.get("parent"):
            raise LxdConfigError("NIC %d names no parent (the host bridge to attach it to)" % index)
        name = nic.get("name")
        if not name:
            while "eth%d" % counter in taken:
                counter += 1
            name = "eth%d" % counter
            taken.add(name)
        device = {"type": "nic", "name": name, "nictype": nic.get("nictype") or "bridged", "parent": nic["parent"]}
        if nic.get("hwaddr"):
            device["hwaddr"] = nic["hwaddr"].lower()
        if nic.get("vlan") is not None:
            device["vlan"] = str(nic["vlan"])
        if index == 0:
            device["boot.priority"] = "1"
        devices[name] = device
    return devices


def bridges(definition):
    """The host bridges a definition's bridged NICs attach to, in device order."""
    found = []
    for _name, device in sorted((definition.get("devices") or {}).items()):
        if device.get("type") == "nic" and device.get("nictype") == "bridged" and device.get("parent") not in found:
            found.append(device["parent"])
    return found


def nic_macs(instance):
    """``{nic: mac}`` of an instance: the device's ``hwaddr`` or, as MAAS reads it, ``volatile.<nic>.hwaddr``."""
    config = instance.get("expanded_config") or instance.get("config") or {}
    devices = instance.get("expanded_devices") or instance.get("devices") or {}
    macs = {}
    for name, device in sorted(devices.items()):
        if device.get("type") == "nic":
            mac = device.get("hwaddr") or config.get("volatile.%s.hwaddr" % name)
            if mac:
                macs[name] = mac.lower()
    return macs


def generate_mac(rand=None):
    """A random MAC with LXD's own prefix (00:16:3e), for a NIC whose MAC must be known before the VM exists."""
    rand = rand or random.SystemRandom().random
    return LXD_MAC_PREFIX + "".join(":%02x" % int(rand() * 256) for _index in range(3))


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LxdConfigError("%s must be a positive whole number, not %r" % (what, value))
    return value


def _non_negative_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LxdConfigError("%s must be a whole number of 0 or more, not %r" % (what, value))
    return value
