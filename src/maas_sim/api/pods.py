"""``/vm-hosts/`` and the deprecated ``/pods/`` alias (``maasserver/api/pods.py``, ``forms/pods.py``)."""

from __future__ import annotations

from .. import builders, compose, lifecycle, lookup, render
from ..errors import bad_request, internal_error, not_found, piston_not_found, unavailable, validation_error
from ..model import Pod
from ..params import REQUIRED, FieldErrors, float_field, form_bool, invalid_choice, mandatory, model_invalid_choice
from ..routing import API_ROOT, NO_CONTENT, Handler, admin_method, operation
from ..scenario import POD_CAPABILITIES


def _pod_id(value: str) -> int:
    """The integer id MAAS's ORM would look up; a non-number is Django's 500 ``ValueError``."""
    if not value.isdigit():
        raise internal_error(f"Field 'id' expected a number but got '{value}'.")
    return int(value)


def pod_or_404(ctx, value: str):
    """``Pod.objects.get_pod_or_404``: 404 ``No Pod matches the given query.``"""
    pod = ctx.state.get("pod", _pod_id(value))
    if pod is None:
        raise not_found("Pod")
    return pod


def _pod_form(ctx, instance=None) -> dict:
    """``PodForm``: name, tags, zone, pool, over-commit ratios, default storage pool and macvlan mode, power parameters."""
    state = ctx.state
    data = ctx.data
    errors = FieldErrors()
    fields: dict = {}
    kind = data.get("type")
    if instance is None:
        if not kind:
            errors.add("type", REQUIRED)
        elif kind not in ("lxd", "virsh"):
            errors.add("type", invalid_choice(kind))
        if not data.get("power_address"):
            errors.add("power_address", REQUIRED)
    elif kind and kind != instance.type:
        errors.add("type", "Cannot change the type of a pod. Delete and re-create the pod with a different type.")
    name = data.get("name")
    if name:
        other = state.find("pod", name=name)
        if other is not None and other is not instance:
            errors.add("name", "BMC with this Name already exists.")
        fields["name"] = name
    for key, kind_name, attribute in (("zone", "zone", "zone_id"), ("pool", "pool", "pool_id")):
        value = data.get(key)
        if value:
            obj = state.find(kind_name, name=value)
            if obj is None:
                errors.add(key, model_invalid_choice())
            else:
                fields[attribute] = obj.id
    for key in ("cpu_over_commit_ratio", "memory_over_commit_ratio"):
        value = float_field(errors, data, key, minimum=0, maximum=10)
        if value is not None:
            fields[key] = value
    if data.get("tags") is not None:
        tags = [tag.strip() for tag in data.get("tags").split(",") if tag.strip()]
        fields["tags"] = tags + (["pod-console-logging"] if "pod-console-logging" not in tags else [])
    if data.get("default_storage_pool"):
        wanted = data.get("default_storage_pool")
        pools = instance.storage_pools if instance else []
        match = next((p for p in pools if wanted in (p["id"], p["name"])), None)
        if match is None:
            errors.add("default_storage_pool", model_invalid_choice())
        else:
            fields["default_storage_pool"] = match["name"]
    if data.get("default_macvlan_mode") is not None:
        mode = data.get("default_macvlan_mode")
        if mode not in ("", "bridge", "passthru", "private", "vepa"):
            errors.add("default_macvlan_mode", invalid_choice(mode))
        fields["default_macvlan_mode"] = mode or None
    errors.raise_if_any()
    parameters = dict(instance.power_parameters) if instance else {}
    for key in ("power_address", "power_pass", "password", "project", "certificate", "key"):
        if data.get(key) is not None:
            parameters[key] = data.get(key)
    if (kind or (instance.type if instance else "")) == "lxd":
        parameters.setdefault("project", "default")
    fields["power_parameters"] = parameters
    return fields


def _discover(state, pod) -> None:
    """What discovery finds for a new VM host: the resources of the machine its address points at, if any."""
    address = pod.power_parameters.get("power_address", "")
    host_part = address.split("://")[-1].split("@")[-1].split("/")[0].rsplit(":", 1)[0].strip("[]")
    sip = state.ip_by_address(host_part) if host_part else None
    interface = state.get("interface", sip.interface_id) if sip is not None and sip.interface_id is not None else None
    machine = state.get("machine", interface.system_id) if interface is not None and interface.system_id else None
    machine = machine or lookup.machine_by_hostname(state, host_part)
    if machine is None:
        return
    pod.host_system_id = machine.system_id
    pod.cores, pod.memory = machine.cpu_count, machine.memory
    size = sum(disk["size"] for disk in machine.disks) // 2
    pod.storage_pools = [{"id": "default" if pod.type == "lxd" else f"{pod.name}-default", "name": "default",
                          "type": "dir", "path": "/var/snap/lxd/common/lxd/storage-pools/default", "total": size}]
    pod.default_storage_pool = "default"


class VmHostsHandler(Handler):
    """Manage the collection of all VM hosts in the MAAS."""

    path = "vm-hosts/"
    vm_host_api = True
    resource = "vm-hosts"

    def read(self, ctx):
        """List VM hosts, by id."""
        return [render.pod(ctx.state, pod, self.resource) for pod in sorted(ctx.state.all("pod"), key=lambda p: p.id)]

    @admin_method
    def create(self, ctx):
        """Add a VM host (``type``, ``power_address``, ``name``, ``zone``, ``pool``, ``tags``, ``project``...)."""
        state = ctx.state
        fields = _pod_form(ctx)
        kind = ctx.data.get("type")
        for pod in state.all("pod"):
            if pod.type == kind and pod.power_parameters.get("power_address") == fields["power_parameters"].get("power_address"):
                raise bad_request(f"Pod {pod.name} with type and parameters already exist.")
        pod_id = state.next_id("pod")
        pod = Pod(id=pod_id, name=fields.pop("name", None) or builders.petname(state), type=kind,
                  zone_id=fields.pop("zone_id", lookup.default_zone(state).id), pool_id=fields.pop("pool_id", 0),
                  tags=fields.pop("tags", ["pod-console-logging"]), capabilities=list(POD_CAPABILITIES),
                  version="5.21.1" if kind == "lxd" else "8.0.0", **fields)
        _discover(state, pod)
        state.add(pod)
        for tag in pod.tags:
            builders.ensure_tag(state, tag)
        return render.pod(state, pod, self.resource)


class PodsHandler(VmHostsHandler):
    """Manage the collection of all the pods in the MAAS (deprecated in favour of vm-hosts)."""

    path = "pods/"
    resource = "pods"


class VmHostHandler(Handler):
    """Manage an individual VM host."""

    path = "vm-hosts/{id}/"
    vm_host_api = True
    resource = "vm-hosts"

    def read(self, ctx, id):  # pylint: disable=redefined-builtin
        """Read a VM host (a miss is piston's plain ``Not Found``)."""
        pod = ctx.state.get("pod", _pod_id(id))
        if pod is None:
            raise piston_not_found()
        return render.pod(ctx.state, pod, self.resource)

    @admin_method
    def update(self, ctx, id):  # pylint: disable=redefined-builtin
        """Update a VM host; discovery failures are swallowed as in MAAS 3.1+."""
        pod = pod_or_404(ctx, id)
        for key, value in _pod_form(ctx, pod).items():
            setattr(pod, key, value)
        for tag in pod.tags:
            builders.ensure_tag(ctx.state, tag)
        ctx.state.touch(pod)
        return render.pod(ctx.state, pod, self.resource)

    @admin_method
    def delete(self, ctx, id):  # pylint: disable=redefined-builtin
        """Delete a VM host; its machines are removed from MAAS (``decompose`` also destroys the VMs)."""
        pod = pod_or_404(ctx, id)
        form_bool(ctx.query, "decompose")
        lifecycle.delete_pod(ctx.state, pod)
        return NO_CONTENT

    @admin_method
    @operation(idempotent=False)
    def refresh(self, ctx, id):  # pylint: disable=redefined-builtin
        """Re-discover the host's resources."""
        pod = pod_or_404(ctx, id)
        if pod.name in ctx.sim.faults["vmhost_offline"]:
            raise unavailable(compose.offline_message(pod))
        return render.pod(ctx.state, pod, self.resource)

    @admin_method
    @operation(idempotent=True)
    def parameters(self, ctx, id):  # pylint: disable=redefined-builtin
        """The VM host's power parameters (contains secrets)."""
        return dict(pod_or_404(ctx, id).power_parameters)

    @admin_method
    @operation(idempotent=False)
    def compose(self, ctx, id):  # pylint: disable=redefined-builtin
        """Compose a machine on the host (cores, memory, storage, interfaces, hostname, zone/pool/domain ids...)."""
        pod = pod_or_404(ctx, id)
        machine = compose.compose(ctx.state, pod, ctx.user, ctx.data, ctx.sim.faults)
        return {"system_id": machine.system_id, "resource_uri": f"{API_ROOT}machines/{machine.system_id}/"}

    @admin_method
    @operation(idempotent=False)
    def add_tag(self, ctx, id):  # pylint: disable=redefined-builtin
        """Add a tag (machines composed later inherit it)."""
        tag = mandatory(ctx.data, "tag")
        if "," in tag:
            raise validation_error('Tag may not contain a ",".')
        pod = pod_or_404(ctx, id)
        if tag not in pod.tags:
            pod.tags = pod.tags + [tag]
            builders.ensure_tag(ctx.state, tag)
            ctx.state.touch(pod)
        return render.pod(ctx.state, pod, self.resource)

    @admin_method
    @operation(idempotent=False)
    def remove_tag(self, ctx, id):  # pylint: disable=redefined-builtin
        """Remove a tag."""
        tag = mandatory(ctx.data, "tag")
        pod = pod_or_404(ctx, id)
        if tag in pod.tags:
            pod.tags = [t for t in pod.tags if t != tag]
            ctx.state.touch(pod)
        return render.pod(ctx.state, pod, self.resource)


class PodHandler(VmHostHandler):
    """Manage an individual pod (deprecated in favour of vm-host)."""

    path = "pods/{id}/"
    resource = "pods"
