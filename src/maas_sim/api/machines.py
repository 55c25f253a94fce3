"""``/machines/`` and ``/machines/{system_id}/`` (``maasserver/api/machines.py``, ``nodes.py``)."""

from __future__ import annotations

import re

from .. import compose, constraints, lifecycle, lookup, machineform, netlogic, power, render
from ..enums import RELEASABLE_STATUSES, STATUS_NAMES, TRANSITIONS, IPType, NodeStatus
from ..errors import ApiError, bad_request, conflict, forbidden, internal_error, validation_error
from ..params import FieldErrors, Params, compose_invalid_choice_text, form_bool, hostname_error, int_field, model_invalid_choice, string_bool
from ..routing import NO_CONTENT, Handler, Raw, operation
from .common import ADMIN, ADMIN_READ, EDIT, UNLOCK, VIEW, machine_or_404, visible_machines

HWE_KERNEL_RE = re.compile(r"^(ga|hwe)-\d{2}\.\d{2}(-edge|-lowlatency)*$")


def resolve_series(state, series: str):
    """``find_osystem_and_release_from_release_name_or_alias``: ``(osystem, release)`` or None."""
    osystem, name = series.split("/", 1) if "/" in series else ("", series)
    if osystem and osystem != "ubuntu":
        return None
    for release in state.meta.get("os_releases", []):
        if name in (release["name"], release.get("version")):
            return "ubuntu", release
    if name == "ubuntu":
        releases = state.meta.get("os_releases", [])
        return ("ubuntu", releases[-1]) if releases else None
    return None


def series_choices(state) -> list[str]:
    """The ``distro_series`` choices MAAS lists (``list_release_choices``, sorted by title)."""
    releases = sorted(state.meta.get("os_releases", []), key=lambda release: release.get("title", release["name"]))
    return [""] + [f"ubuntu/{release['name']}" for release in releases]


def machine_list_response(state, machines) -> Raw:
    """A JSON array of machines from their cached serialisations, as pieces (no copy of the whole list)."""
    parts = [b"["]
    for machine in machines:
        if len(parts) > 1:
            parts.append(b",")
        parts.append(render.machine_json(state, machine))
    parts.append(b"]")
    return Raw(parts)


def power_parameters(state, machine) -> dict:
    """``Node.get_power_parameters``: the BMC's parameters (a VM's VM host) overlaid with the machine's own."""
    pod = state.get("pod", machine.pod_id) if machine.pod_id is not None else None
    return {**(pod.power_parameters if pod is not None else {}), **machine.power_parameters}


def _hosted_pods(state, machine) -> list:
    return [pod for pod in state.all("pod") if pod.host_system_id == machine.system_id]


def _check_hosted_pods(state, machine, force: bool) -> None:
    """``maybe_delete_pods``: refuse (400) unless forced; forced deletes the VM hosts and their machines."""
    pods = _hosted_pods(state, machine)
    if pods and not force:
        raise bad_request("The following VM hosts must be removed first: " + ", ".join(pod.name for pod in pods))
    for pod in pods:
        lifecycle.delete_pod(state, pod)


def _is_registered(ctx) -> bool:
    """``is_registered``: whether a MAC address belongs to a known node."""
    mac = ctx.query.get("mac_address")
    if not mac:
        raise validation_error("No provided mac_address!")
    mac = mac.lower().replace("-", ":")
    return any(i.mac_address == mac and i.system_id for i in ctx.state.all("interface"))


class AnonMachinesHandler(Handler):
    """Anonymous machine enlistment and enquiries."""

    path = "machines/"

    @operation(idempotent=True)
    def is_registered(self, ctx):
        """Returns whether or not the given MAC address is registered within this MAAS."""
        return _is_registered(ctx)


class MachinesHandler(Handler):
    """Manage the collection of all the machines in the MAAS."""

    path = "machines/"
    anonymous = AnonMachinesHandler

    def create(self, ctx):
        """Create a machine (New); an admin's is commissioned unless ``commission=false`` or ``deployed=true``."""
        state = ctx.state
        commission = string_bool(ctx.data, "commission", default=True)
        deployed = string_bool(ctx.data, "deployed")
        form = machineform.MachineCreateForm(state, ctx.data, ctx.user, ctx.sim.without_vm_hosts)
        form.validate()
        if ctx.user.is_superuser and commission and not deployed and form.fields["power_type"] == "":
            # ``start_commissioning`` raises UnknownPowerType: a 500, and the transaction (the new machine) is rolled back.
            raise internal_error("Unconfigured power type. Please configure the power type and try again.")
        machine = form.save()
        if ctx.user.is_superuser and commission and not deployed:
            power.start_commissioning(ctx, machine)
        return Raw(render.machine_json(state, machine))

    def read(self, ctx):
        """List machines visible to the user, optionally filtered (``ReadNodesForm``)."""
        form = constraints.NodeFilter(ctx.state, ctx.query, constraints.READ_FIELDS)
        form.errors.raise_if_any()
        machines = [m for m in visible_machines(ctx) if form.matches(m)]
        return machine_list_response(ctx.state, machines)

    @operation(idempotent=True)
    def is_registered(self, ctx):
        """Returns whether or not the given MAC address is registered within this MAAS."""
        return _is_registered(ctx)

    @operation(idempotent=True)
    def list_allocated(self, ctx):
        """List the caller's Allocated machines (``id=`` filters)."""
        ids = ctx.query.getlist("id")
        machines = [m for m in visible_machines(ctx) if m.owner_id == ctx.user.id and m.status == NodeStatus.ALLOCATED
                    and (not ids or m.system_id in ids)]
        return machine_list_response(ctx.state, machines)

    @operation(idempotent=False)
    def allocate(self, ctx):
        """Allocate a Ready machine matching the constraints, composing one on a VM host when none matches."""
        state = ctx.state
        form = constraints.NodeFilter(state, ctx.data, constraints.ACQUIRE_FIELDS)
        input_constraints = [(key, values) for key, values in ctx.data.lists() if key != "op"]
        _allocation_options(ctx.post, ctx.sim.without_vm_hosts)
        verbose = string_bool(ctx.post, "verbose")
        dry_run = string_bool(ctx.post, "dry_run")
        form.errors.raise_if_any()
        candidates = [
            m for m in state.all("machine")
            if m.status == NodeStatus.READY and not m.locked and (m.owner_id is None or m.owner_id == ctx.user.id) and form.matches(m)
        ]
        candidates.sort(key=lambda m: (m.cpu_count + m.memory / 1024.0, m.id))
        machine = candidates[0] if candidates else None
        system_id = ctx.post.get("system_id")
        if machine is None and system_id is None and not ctx.sim.vm_hosts_gone():
            machine = _compose_for_allocation(ctx, form)
        if machine is None:
            described = form.describe()
            if described == "":
                message = "No machine available."
            elif system_id is not None:
                message = f"No machine with system ID {system_id} available."
            else:
                message = f'No available machine matches constraints: {input_constraints!s} (resolved to "{described}")'
            raise conflict(message)
        if not dry_run:
            lifecycle.acquire(state, machine, ctx.user, ctx.data.get("agent_name", ""))
        data = render.machine(state, machine)
        data["constraints_by_type"] = _constraints_by_type(state, machine, form, verbose)
        return data

    @operation(idempotent=False)
    def release(self, ctx):
        """Release several machines (``machines=`` repeated)."""
        state = ctx.state
        system_ids = list(dict.fromkeys(ctx.post.getlist("machines")))
        unknown = [sid for sid in system_ids if state.get("machine", sid) is None]
        if unknown:
            raise bad_request("Unknown machine(s): %s." % ", ".join(unknown))
        machines = [state.get("machine", sid) for sid in system_ids]
        denied = [m.system_id for m in machines if not (ctx.user.is_superuser or m.owner_id in (None, ctx.user.id)) or m.locked]
        if denied:
            raise forbidden("You don't have the required permission to release the following machine(s): %s." % ", ".join(denied))
        failed = [f"{m.system_id} ('{STATUS_NAMES[m.status]}')" for m in machines
                  if m.status != NodeStatus.READY and m.status not in RELEASABLE_STATUSES]
        if failed:
            raise conflict("Machine(s) cannot be released in their current state: %s." % ", ".join(failed))
        released = []
        for machine in machines:
            if machine.status in RELEASABLE_STATUSES:
                _check_hosted_pods(state, machine, force=False)
                lifecycle.release(state, machine)
                released.append(machine.system_id)
        return released


# MAAS 4.0 refuses these allocation/deploy options in ``get_allocation_options`` (commit 08f65b9c1).
REMOVED_OPTIONS = ("install_rackd", "install_kvm", "register_vmhost")


def _allocation_options(post: Params, without_vm_hosts: bool = False) -> dict:
    """``get_allocation_options``: the StringBool/Int options are validated, in MAAS's order, even when unused."""
    options = {}
    for key in REMOVED_OPTIONS + ("ephemeral_deploy",):
        options[key] = string_bool(post, key)
        if without_vm_hosts and options[key] and key in REMOVED_OPTIONS:
            raise bad_request(f"Support for {key} allocation parameter has been removed.")
    default_bridge_all = bool(options["install_kvm"] or options["register_vmhost"]) and not options["ephemeral_deploy"]
    options["bridge_all"] = string_bool(post, "bridge_all", default=default_bridge_all)
    bridge_type = post.get("bridge_type", "standard")
    if bridge_type not in ("standard", "ovs"):
        raise validation_error({"bridge_type": compose_invalid_choice_text("bridge_type", bridge_type, ("standard", "ovs"))})
    options["bridge_stp"] = string_bool(post, "bridge_stp")
    fd = post.get("bridge_fd")
    if fd is not None and not fd.strip().lstrip("-").isdigit():
        raise validation_error("Invalid bridge_fd: Please enter an integer value")
    options["enable_hw_sync"] = string_bool(post, "enable_hw_sync")
    return options


def _compose_for_allocation(ctx, form):
    """Dynamic composition for ``op=allocate`` (``ComposeMachineForPodsForm``); failures on a host are skipped."""
    state = ctx.state
    cleaned = form.cleaned
    items = []
    if cleaned.get("cpu_count"):
        items.append(("cores", str(int(min(cleaned["cpu_count"])))))
    if cleaned.get("mem"):
        items.append(("memory", str(int(min(cleaned["mem"])))))
    if cleaned.get("arch"):
        items.append(("architecture", min(cleaned["arch"])))
    if cleaned.get("storage"):
        items.append(("storage", cleaned["storage"]))
    if cleaned.get("interfaces"):
        items.append(("interfaces", cleaned["interfaces"]))
    data = Params(items)
    for pod in compose.usable_for_allocation(state, cleaned, ctx.data, ctx.post.get("zone")):
        try:
            return compose.compose(state, pod, ctx.user, data, ctx.sim.faults, dynamic=True, skip_commissioning=True)
        except ApiError:
            continue
    return None


def _constraints_by_type(state, machine, form, verbose: bool) -> dict:
    result = {}
    storage = form.cleaned.get("storage")
    if storage:
        matched = constraints.match_storage(machine, storage) or {}
        if matched:
            result["storage"] = matched
    interfaces = form.cleaned.get("interfaces")
    if interfaces:
        result["interfaces"] = constraints.match_interfaces(state, machine, interfaces) or {}
    if verbose:
        result["verbose_storage"] = {machine.id: result.get("storage", {})} if storage else {}
        result["verbose_interfaces"] = {label: {machine.id: ids} for label, ids in result.get("interfaces", {}).items()}
    return result


class MachineHandler(Handler):
    """Manage an individual machine."""

    path = "machines/{system_id}/"

    def read(self, ctx, system_id):
        """Read a machine."""
        machine = machine_or_404(ctx, system_id, VIEW)
        return Raw(render.machine_json(ctx.state, machine))

    def update(self, ctx, system_id):
        """Update a machine (admin): hostname, description, domain, zone, pool, architecture, cpu_count, memory..."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, ADMIN)
        data = ctx.data
        errors = FieldErrors()
        changes = {}
        hostname = data.get("hostname")
        if hostname is not None:
            problem = hostname_error(hostname)
            other = lookup.machine_by_hostname(state, hostname)
            if problem:
                errors.add("hostname", problem)
            elif other is not None and other is not machine:
                errors.add("hostname", f'Node with hostname "{hostname}" already exists.')
            else:
                changes["hostname"] = hostname
        for key, kind, attribute in (("zone", "zone", "zone_id"), ("pool", "pool", "pool_id"), ("domain", "domain", "domain_id")):
            value = data.get(key)
            if value:
                obj = state.find(kind, name=value) or (state.get(kind, int(value)) if value.isdigit() else None)
                if obj is None:
                    errors.add(key, model_invalid_choice())
                else:
                    changes[attribute] = obj.id
        for key in ("cpu_count", "memory", "swap_size"):
            value = int_field(errors, data, key, minimum=0)
            if value is not None:
                changes[key] = value
        for key in ("description", "architecture", "min_hwe_kernel"):
            if data.get(key) is not None:
                changes[key] = data.get(key)
        errors.raise_if_any()
        if "hostname" in changes:
            state.rename_machine(machine, changes.pop("hostname"))
        for attribute, value in changes.items():
            setattr(machine, attribute, value)
        state.touch(machine)
        return Raw(render.machine_json(state, machine))

    def delete(self, ctx, system_id):
        """Delete a machine (admin); a VM is decomposed and its resources return to the VM host."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, ADMIN)
        _check_hosted_pods(state, machine, force=bool(string_bool(ctx.query, "force")))
        lifecycle.delete_machine(state, machine)
        return NO_CONTENT

    @operation(idempotent=False)
    def deploy(self, ctx, system_id):
        """Deploy an OS; a Ready machine is allocated to the caller first."""
        state = ctx.state
        post = ctx.post
        series = post.get("distro_series")
        hwe_kernel = post.get("hwe_kernel")
        machine = machine_or_404(ctx, system_id, EDIT)
        options = _allocation_options(post, ctx.sim.without_vm_hosts)
        if options["install_rackd"]:
            raise bad_request("Deploying a machine as a rackd has been disabled and it's not supported anymore.")
        if (options["install_kvm"] or options["register_vmhost"]) and not ctx.user.is_superuser:
            raise forbidden("Only administratros can deploy VM hosts")
        ephemeral = bool(options["ephemeral_deploy"])
        if (options["install_kvm"] or options["register_vmhost"]) and ephemeral:
            raise bad_request("A machine can not be a VM host if it is deployed to memory.")
        acquire = machine.status == NodeStatus.READY
        if acquire and machine.owner_id is not None and machine.owner_id != ctx.user.id:
            raise conflict("Can't allocate a machine belonging to another user.")
        effective = NodeStatus.ALLOCATED if acquire else machine.status
        if NodeStatus.DEPLOYING not in TRANSITIONS[effective]:
            raise conflict(f"Can't deploy a machine that is in the '{STATUS_NAMES[effective]}' state")
        if not series:
            series = state.meta.get("default_distro_series", "jammy")
        resolved = resolve_series(state, series.strip().lower())
        if resolved is None:
            raise validation_error({"distro_series": [compose_invalid_choice_text("distro_series", series, series_choices(state))]})
        osystem, release = resolved
        if hwe_kernel is not None and hwe_kernel and not HWE_KERNEL_RE.match(hwe_kernel):
            raise validation_error({"hwe_kernel": [f"{hwe_kernel} is not available for {osystem}/{release['name']} on {machine.architecture}."]})
        _check_address_room(state, machine)
        if acquire:
            lifecycle.acquire(state, machine, ctx.user, ctx.data.get("agent_name", ""))
        machine.osystem = osystem
        machine.distro_series = release["name"]
        machine.hwe_kernel = hwe_kernel or f"ga-{release.get('version', '')}"
        machine.ephemeral_deploy = ephemeral
        machine.enable_hw_sync = bool(options["enable_hw_sync"])
        machine.enable_kernel_crash_dump = bool(string_bool(post, "enable_kernel_crash_dump"))
        power.start_deployment(ctx, machine, post.get("user_data"))
        return Raw(render.machine_json(state, machine))

    @operation(idempotent=False)
    def release(self, ctx, system_id):
        """Release a machine: Releasing, then Ready (its automatic addresses are freed)."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, EDIT)
        force = form_bool(ctx.data, "force")
        erase = any(form_bool(ctx.data, key) for key in ("erase", "secure_erase", "quick_erase"))
        pod = state.get("pod", machine.pod_id) if machine.pod_id is not None else None
        if machine.status in (NodeStatus.RELEASING, NodeStatus.READY):
            pass
        elif machine.status in RELEASABLE_STATUSES and pod is not None and pod.name in ctx.sim.faults["vmhost_offline"]:
            # Node._release powers the VM off through its VM host first; unreachable, the power-off fails and its
            # errback puts the machine back in its status (MAAS answers Releasing and reverts a moment later).
            _check_hosted_pods(state, machine, force)
        elif machine.status in RELEASABLE_STATUSES:
            _check_hosted_pods(state, machine, force)
            lifecycle.release(state, machine, erase=erase)
        else:
            raise conflict(f"Machine cannot be released in its current state ('{STATUS_NAMES[machine.status]}').")
        return Raw(render.machine_json(state, machine))

    @operation(idempotent=False)
    def commission(self, ctx, system_id):
        """Start commissioning (admin): Commissioning, then Ready."""
        machine = machine_or_404(ctx, system_id, ADMIN)
        power.start_commissioning(ctx, machine, skip_networking=form_bool(ctx.data, "skip_networking"))
        return Raw(render.machine_json(ctx.state, machine))

    @operation(idempotent=True)
    def power_parameters(self, ctx, system_id):
        """The machine's power parameters, secrets included (admins; others get an empty 403)."""
        machine = machine_or_404(ctx, system_id, ADMIN_READ)
        return power_parameters(ctx.state, machine)

    @operation(idempotent=False)
    def power_on(self, ctx, system_id):
        """Power on; an Allocated machine starts deploying."""
        machine = machine_or_404(ctx, system_id, EDIT)
        if machine.owner_id is None:
            raise conflict("Can't start node: it hasn't been allocated.")
        if machine.status == NodeStatus.ALLOCATED:
            _check_address_room(ctx.state, machine)
            power.start_deployment(ctx, machine, ctx.post.get("user_data"))
        else:
            if ctx.post.get("user_data") is not None:
                machine.user_data = ctx.post.get("user_data")
            machine.power_state = "on"
            ctx.state.touch(machine)
        return Raw(render.machine_json(ctx.state, machine))

    @operation(idempotent=False)
    def power_off(self, ctx, system_id):
        """Power off (``stop_mode`` soft or hard)."""
        machine = machine_or_404(ctx, system_id, EDIT)
        machine.power_state = "off"
        ctx.state.touch(machine)
        return Raw(render.machine_json(ctx.state, machine))

    @operation(idempotent=True)
    def query_power_state(self, ctx, system_id):
        """Query the power state from the BMC."""
        machine = machine_or_404(ctx, system_id, VIEW)
        return {"state": machine.power_state}

    @operation(idempotent=False)
    def mark_broken(self, ctx, system_id):
        """Mark Broken (the caller must own the machine)."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, EDIT)
        if machine.owner_id != ctx.user.id:
            raise forbidden()
        comment = ctx.post.get("comment") or ctx.post.get("error_description") or ""
        if machine.pending:
            lifecycle.cancel(state, machine)
        lifecycle.set_status(state, machine, NodeStatus.BROKEN, "Broken")
        machine.error_description = comment
        return Raw(render.machine_json(state, machine))

    @operation(idempotent=False)
    def mark_fixed(self, ctx, system_id):
        """Mark a Broken machine fixed (admin): Ready, or Deployed when it was Deployed before."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, ADMIN)
        if machine.status != NodeStatus.BROKEN:
            raise conflict("Can't mark a non-broken node as 'Ready'.")
        target = NodeStatus.DEPLOYED if machine.previous_status == NodeStatus.DEPLOYED else NodeStatus.READY
        lifecycle.set_status(state, machine, target)
        machine.error_description = ""
        machine.osystem = ""
        machine.distro_series = ""
        machine.hwe_kernel = None
        return Raw(render.machine_json(state, machine))

    @operation(idempotent=False)
    def abort(self, ctx, system_id):
        """Abort commissioning, deployment or disk erasing."""
        state = ctx.state
        machine = machine_or_404(ctx, system_id, EDIT)
        targets = {NodeStatus.COMMISSIONING: NodeStatus.NEW, NodeStatus.DEPLOYING: NodeStatus.ALLOCATED,
                   NodeStatus.DISK_ERASING: NodeStatus.FAILED_DISK_ERASING}
        if machine.status not in targets:
            raise conflict(f"Cannot abort in current state: node {machine.system_id} is in state {STATUS_NAMES[machine.status]}.")
        lifecycle.cancel(state, machine)
        lifecycle.set_status(state, machine, targets[machine.status])
        machine.power_state = "off"
        if machine.status == NodeStatus.ALLOCATED:
            netlogic.release_auto_ips(state, machine)
        return Raw(render.machine_json(state, machine))

    @operation(idempotent=False)
    def lock(self, ctx, system_id):
        """Lock a Deployed machine against changes."""
        machine = machine_or_404(ctx, system_id, ADMIN)
        if machine.status not in (NodeStatus.DEPLOYED, NodeStatus.DEPLOYING):
            raise conflict("Can only lock deployed machines")
        machine.locked = True
        ctx.state.touch(machine)
        return Raw(render.machine_json(ctx.state, machine))

    @operation(idempotent=False)
    def unlock(self, ctx, system_id):
        """Unlock a machine."""
        machine = machine_or_404(ctx, system_id, UNLOCK)
        machine.locked = False
        ctx.state.touch(machine)
        return Raw(render.machine_json(ctx.state, machine))


def _check_address_room(state, machine) -> None:
    """Fail (503) before any change when the AUTO links cannot all get an address."""
    needed: dict = {}
    for interface in state.interfaces_of(machine.system_id):
        for sip in state.ips_of(interface.id):
            if sip.alloc_type == IPType.AUTO and not sip.ip and sip.subnet_id is not None:
                needed[sip.subnet_id] = needed.get(sip.subnet_id, 0) + 1
    for subnet_id, count in needed.items():
        free = sum(span.size for span in netlogic.not_in_use(state, state.get("subnet", subnet_id)))
        if free < count:
            raise ApiError(503, f"{machine.system_id}: Unable to allocate static IP due to address exhaustion.")
