"""VM host resources: what the VMs on a host use, and MAAS's over-commit check."""

from __future__ import annotations

import dataclasses

from .errors import internal_error, unavailable
from .state import State


@dataclasses.dataclass
class Usage:
    """Resources the VMs of one host use (``get_vm_host_used_resources``)."""

    cores: int = 0
    memory: int = 0  # MiB
    storage: int = 0  # bytes
    pools: dict = dataclasses.field(default_factory=dict)  # storage pool name -> bytes used


def vms_of(state: State, pod) -> list:
    """The VM records of a host."""
    return [vm for vm in state.tables["vm"].values() if vm.pod_id == pod.id]


def usage(state: State, pod) -> Usage:
    """Sum the cores, memory and disks of the host's VMs."""
    used = Usage(pools={p["name"]: 0 for p in pod.storage_pools})
    for vm in vms_of(state, pod):
        used.cores += vm.cores
        used.memory += vm.memory
        for disk in vm.disks:
            used.storage += disk["size"]
            used.pools[disk["pool"]] = used.pools.get(disk["pool"], 0) + disk["size"]
    return used


def local_storage(pod) -> int:
    """Total bytes of the host's storage pools."""
    return sum(p["total"] for p in pod.storage_pools)


def over_commit_message(pod, used: Usage, cores: int, memory: int) -> str:
    """``Pod.check_over_commit_ratios`` given the host's ``usage``: empty when the request fits, else MAAS's message(s)."""
    message = ""
    if pod.cores * pod.cpu_over_commit_ratio - (used.cores + cores) < 0:
        message = (
            f"CPU overcommit ratio is {float(pod.cpu_over_commit_ratio)} and there are "
            f"{pod.cores - used.cores} available resources; {cores} requested."
        )
    if pod.memory * pod.memory_over_commit_ratio - (used.memory + memory) < 0:
        message += (
            f"Memory overcommit ratio is {float(pod.memory_over_commit_ratio)} and there are "
            f"{pod.memory - used.memory} available resources; {memory} requested."
        )
    return message


def pick_storage_pool(pod, used: Usage, size: int, tags: list, claimed: dict) -> dict:
    """Choose a storage pool for a disk like the LXD driver's ``_get_usable_storage_pool``.

    ``claimed`` holds bytes already given to earlier disks of the same request.
    No room raises ``PodInvalidResources``, which MAAS does not map (500); a
    missing default pool is a driver error (503 ``Unable to compose machine because: ...``).
    """

    def free(pool) -> int:
        return pool["total"] - used.pools.get(pool["name"], 0) - claimed.get(pool["name"], 0)

    tagged = [pool for pool in pod.storage_pools if pool["name"] in tags]
    if tagged:
        for pool in tagged:
            if size <= free(pool):
                return pool
        raise internal_error("Not enough storage space on storage pools: " + ", ".join(pool["name"] for pool in tagged))
    if pod.default_storage_pool:
        default = next((pool for pool in pod.storage_pools if pool["name"] == pod.default_storage_pool), None)
        if default is None:
            raise unavailable(f"Unable to compose machine because: Default storage pool '{pod.default_storage_pool}' doesn't exist.")
        if size <= free(default):
            return default
        raise internal_error(f"Not enough space in default storage pool: {default['name']}")
    for pool in pod.storage_pools:
        if size <= free(pool):
            return pool
    raise internal_error("Not enough storage space on any storage pools: " + ", ".join(pool["name"] for pool in pod.storage_pools))
