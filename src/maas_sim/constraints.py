"""Machine filters and allocation constraints (``node_constraint_filter_forms.py``).

``ReadNodesForm`` validates ``GET /machines/`` parameters and ``AcquireNodeForm``
those of ``op=allocate``: unknown keys are 400 ``No such constraint.``, unknown
zones/pools/tags/owners are 400 with MAAS's texts, and the 409 message of a
failed allocation describes the cleaned constraints as MAAS does.
"""

from __future__ import annotations

import re

from . import lookup, modes
from .enums import POWER_STATES, SIMPLE_STATUSES, STATUS_KEYWORDS, IPType
from .params import FieldErrors, Params, invalid_choice
from .state import State

# ``STORAGE_REGEX``: optional label, size in GB, optional tags in parentheses.
STORAGE_RE = re.compile(r"(?:(?P<label>[a-zA-Z0-9]+)\:)?(?P<size>[0-9.]+)(?:\((?P<tags>[^)]+)\))?")
MAC_RE = re.compile(r"^([0-9a-fA-F]{1,2}[:-]){5}[0-9a-fA-F]{1,2}$")
USABLE_ARCHITECTURES = ("amd64/generic", "arm64/generic")
NETWORKING_KEYS = {
    "id", "not_id", "fabric", "not_fabric", "fabric_class", "not_fabric_class", "ip", "not_ip", "mode", "name", "not_name", "hostname",
    "not_hostname", "subnet", "not_subnet", "space", "not_space", "subnet_cidr", "not_subnet_cidr", "type", "vlan", "not_vlan", "vid",
    "not_vid", "tag", "not_tag", "link_speed",
}

# Fields of each form; the kind drives cleaning and how describe_constraints prints them.
_FILTER_FIELDS = {
    "arch": "arch", "not_arch": "arch", "tags": "tags", "not_tags": "list", "fabrics": "list", "not_fabrics": "list",
    "fabric_classes": "list", "not_fabric_classes": "list", "subnets": "subnets", "not_subnets": "subnets", "link_speed": "number",
    "vlans": "list", "not_vlans": "list", "zone": "zone", "not_in_zone": "zone", "system_id": "list", "pool": "pool",
    "not_in_pool": "pool", "storage": "storage", "interfaces": "interfaces", "devices": "text", "cpu_count": "number",
    "cpu_speed": "number", "mem": "number", "pod": "list", "not_pod": "list", "pod_type": "list", "not_pod_type": "list",
    "owner": "owner", "not_owner": "list", "power_state": "power", "not_power_state": "power", "deployment_target": "target",
    "not_deployment_target": "target",
}
READ_FIELDS = dict(_FILTER_FIELDS, id="list", not_id="list", hostname="list", not_hostname="list", mac_address="mac", domain="list",
                   not_domain="list", agent_name="list", not_agent_name="list", status="status", not_status="status",
                   simple_status="simple", not_simple_status="simple")
ACQUIRE_FIELDS = dict(_FILTER_FIELDS, name="list")
# Gone from ``FilterNodeForm`` (so from both forms) in MAAS 4.0 (commit 08f65b9c1): there they are
# unknown keys, i.e. ``No such constraint.``
POD_FIELDS = ("pod", "not_pod", "pod_type", "not_pod_type")
IGNORED = {"comment", "bridge_all", "bridge_type", "bridge_stp", "bridge_fd", "dry_run", "verbose", "op", "agent_name"}

_NUMBER_ERRORS = {
    "cpu_count": "Invalid CPU count: number required.",
    "cpu_speed": "Invalid CPU speed: number required.",
    "mem": "Invalid memory: number of MiB required.",
    "link_speed": "Invalid link speed: number required.",
}


def parse_storage(value: str):
    """``get_storage_constraints_from_string``: ``[(label, bytes, tags)]``, the first kept first, the rest by tag count."""
    groups = STORAGE_RE.findall(value)
    constraints = [(label, int(float(size) * 1000**3), tags.split(",") if tags else []) for label, size, tags in groups]
    head, tail = constraints[:1], constraints[1:]
    tail.sort(key=lambda item: len(item[2]), reverse=True)
    return head + tail


def storage_is_valid(value: str) -> bool:
    """``storage_validator``: the string must re-assemble from its parsed groups."""
    groups = STORAGE_RE.findall(value)
    if not groups:
        return False
    rendered = []
    for label, size, tags in groups:
        rendered.append((label + ":" if label else "") + size + (f"({tags})" if tags else ""))
    return ",".join(rendered) == value


def parse_labeled_map(value: str) -> dict:
    """``LabeledConstraintMap``: ``label:key=value,key=value;label2:...`` -> ``{label: {key: [values]}}``."""
    result: dict = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        label, sep, rest = part.partition(":")
        if not sep or not label:
            raise ValueError(f"Invalid constraint: {part!r}")
        constraints: dict = {}
        for item in rest.split(","):
            key, sep, item_value = item.partition("=")
            if not sep:
                raise ValueError(f"Malformed constraint: {item!r}")
            constraints.setdefault(key.strip(), []).append(item_value.strip())
        result[label] = constraints
    return result


def check_storage(errors: FieldErrors, key: str, value: str) -> bool:
    """Validate a ``storage`` constraint: True, or False after adding MAAS's form error to ``errors``."""
    if storage_is_valid(value):
        return True
    errors.add(key, f'Malformed storage constraint, "{value}".')
    return False


def check_interfaces(errors: FieldErrors, key: str, value: str) -> dict | None:
    """Validate an ``interfaces`` constraint: its label map, or None after adding MAAS's form error to ``errors``."""
    try:
        parsed = parse_labeled_map(value)
    except ValueError as exc:
        errors.add(key, str(exc))
        return None
    for constraints in parsed.values():
        for name in constraints:
            if name not in NETWORKING_KEYS:
                errors.add(key, f"Unknown interfaces constraint: '{name}")
                return None
    return parsed


class NodeFilter:
    """A validated filter/constraint form."""

    def __init__(self, state: State, params: Params, fields: dict):
        if modes.without_vm_hosts(state):
            fields = {key: kind for key, kind in fields.items() if key not in POD_FIELDS}
        self.state = state
        self.fields = fields
        self.cleaned: dict = {}
        self.errors = FieldErrors()
        for key in params.keys():
            if key not in fields and key not in IGNORED:
                self.errors.add(key, "No such constraint.")
        for key, kind in fields.items():
            values = params.getlist(key)
            if values:
                self._clean(key, kind, values)

    # --- cleaning --------------------------------------------------------------

    def _clean(self, key: str, kind: str, values: list) -> None:
        state = self.state
        if kind == "number":
            try:
                self.cleaned[key] = [float(v) for v in values]
            except ValueError:
                self.errors.add(key, _NUMBER_ERRORS.get(key, "Enter a number."))
        elif kind == "tags":
            names = set(n for v in values for n in re.findall(r"[^\s,]+", v))
            unknown = sorted(n for n in names if lookup.tag_named(state, n) is None)
            if unknown:
                self.errors.add(key, "No such tag(s): %s." % ", ".join(f"'{n}'" for n in unknown))
            else:
                self.cleaned[key] = names
        elif kind in ("zone", "pool"):
            table = "zone" if kind == "zone" else "pool"
            unknown = sorted(set(values) - {obj.name for obj in state.all(table)})
            if unknown:
                self.errors.add(key, f"No such {kind}(s): {', '.join(unknown)}.")
            else:
                self.cleaned[key] = values
        elif kind == "owner":
            unknown = sorted(set(values) - {user.username for user in state.all("user")})
            if unknown:
                self.errors.add(key, f"No such owner: '{unknown[0]}'.")
            else:
                self.cleaned[key] = values
        elif kind == "arch":
            arches = []
            for value in values:
                if value in USABLE_ARCHITECTURES:
                    arches.append(value)
                elif any(a.split("/", maxsplit=1)[0] == value for a in USABLE_ARCHITECTURES):
                    arches.extend(a for a in USABLE_ARCHITECTURES if a.split("/", maxsplit=1)[0] == value)
                else:
                    self.errors.add(key, "Architecture not recognised.")
                    return
            self.cleaned[key] = arches
        elif kind in ("status", "simple", "power", "target"):
            choices = {"status": STATUS_KEYWORDS, "simple": SIMPLE_STATUSES, "power": POWER_STATES,
                       "target": ("memory", "disk")}[kind]
            cleaned = [v[1:] if v.startswith("=") else v for v in values]
            bad = [v for v in cleaned if v not in choices]
            if bad:
                self.errors.add(key, invalid_choice(bad[0]))
            else:
                self.cleaned[key] = cleaned
        elif kind == "subnets":
            subnets = set()
            for value in values:
                subnet = lookup.subnet_by_specifier(state, value)
                if subnet is not None:
                    subnets.add(subnet.id)
            if not subnets:
                self.errors.add(key, "No matching subnets found.")
            else:
                self.cleaned[key] = subnets
        elif kind == "mac":
            bad = [v for v in values if not MAC_RE.match(v)]
            if bad:
                self.errors.add(key, f"'{bad[0]}' is not a valid MAC address.")
            else:
                self.cleaned[key] = [v.lower().replace("-", ":") for v in values]
        elif kind == "storage":
            value = values[-1]
            if value and check_storage(self.errors, key, value):
                self.cleaned[key] = value
        elif kind == "interfaces":
            value = values[-1]
            if check_interfaces(self.errors, key, value) is not None:
                self.cleaned[key] = value
        elif kind == "text":
            self.cleaned[key] = values[-1]
        else:
            self.cleaned[key] = values

    # --- matching --------------------------------------------------------------

    def matches(self, machine) -> bool:
        """True when the machine satisfies every cleaned constraint."""
        state = self.state
        for key, value in self.cleaned.items():
            if not CHECKS[key](state, machine, value):
                return False
        return True

    def describe(self) -> str:
        """``describe_constraints``: ``key=value`` of every cleaned field, by field name."""
        parts = []
        for key in sorted(self.fields):
            value = self.cleaned.get(key)
            if value is None or value == "" or value == [] or value == set():
                continue
            if isinstance(value, str):
                text = value
            else:
                items = sorted(value) if isinstance(value, (set, frozenset)) else value
                text = ",".join(str(item) for item in items)
            parts.append(f"{key}={text}")
        return " ".join(parts)


def _name(state: State, kind: str, key, attribute: str = "name"):
    obj = state.get(kind, key) if key is not None else None
    return getattr(obj, attribute) if obj is not None else None


def _bmc_attr(state: State, machine, attribute: str):
    """The machine's BMC ``name`` or ``power_type``, which the ``pod*`` constraints match (``bmc__name``,
    ``bmc__power_type`` in ``FilterNodeForm.NODE_FILTERS``/``NODE_EXCLUDES``).

    A composed VM's BMC is its VM host (the pod's name and type); any other machine with a power type has a plain
    BMC of that power type and an empty name; a machine without a power type has none (``Node.power_type`` is
    ``""`` then): ``pod_type`` never matches it and ``not_pod_type`` keeps it.
    """
    if machine.pod_id is not None:
        pod = state.get("pod", machine.pod_id)
        if pod is not None:
            return pod.name if attribute == "name" else pod.type
    if not machine.power_type:
        return None
    return "" if attribute == "name" else machine.power_type


def _name_matches(state: State, machine, name: str) -> bool:
    host, domain = name.split(".", 1) if "." in name else (name, "")
    return machine.hostname == host and (not domain or _name(state, "domain", machine.domain_id) == domain)


def _subnet_ids(state: State, machine) -> set:
    return {sip.subnet_id for i in state.interfaces_of(machine.system_id) for sip in state.ips_of(i.id) if sip.subnet_id is not None}


def _vlan_ids(state: State, machine) -> set:
    return {i.vlan_id for i in state.interfaces_of(machine.system_id) if i.vlan_id is not None}


def _fabric_names(state: State, machine, attribute: str = "name") -> set:
    names = set()
    for vlan_id in _vlan_ids(state, machine):
        vlan = state.get("vlan", vlan_id)
        fabric = state.get("fabric", vlan.fabric_id) if vlan else None
        if fabric and getattr(fabric, attribute):
            names.add(getattr(fabric, attribute))
    return names


def _status_in(machine, keywords) -> bool:
    return machine.status in {STATUS_KEYWORDS[k] for k in keywords}


def _simple_in(machine, keywords) -> bool:
    return any(machine.status in SIMPLE_STATUSES[k] for k in keywords)


def _target(machine) -> str:
    return "memory" if machine.ephemeral_deploy else "disk"


# Cleaned field -> check(state, machine, cleaned value); the ``not_*`` fields exclude.
CHECKS = {
    "id": lambda s, m, v: m.system_id in v,
    "not_id": lambda s, m, v: m.system_id not in v,
    "system_id": lambda s, m, v: m.system_id in v,
    "hostname": lambda s, m, v: m.hostname in v,
    "not_hostname": lambda s, m, v: m.hostname not in v,
    "name": lambda s, m, v: all(_name_matches(s, m, name) for name in v),
    "agent_name": lambda s, m, v: m.agent_name in v,
    "not_agent_name": lambda s, m, v: m.agent_name not in v,
    "status": lambda s, m, v: _status_in(m, v),
    "not_status": lambda s, m, v: not _status_in(m, v),
    "simple_status": lambda s, m, v: _simple_in(m, v),
    "not_simple_status": lambda s, m, v: not _simple_in(m, v),
    "zone": lambda s, m, v: _name(s, "zone", m.zone_id) in v,
    "not_in_zone": lambda s, m, v: _name(s, "zone", m.zone_id) not in v,
    "pool": lambda s, m, v: _name(s, "pool", m.pool_id) in v,
    "not_in_pool": lambda s, m, v: _name(s, "pool", m.pool_id) not in v,
    "domain": lambda s, m, v: _name(s, "domain", m.domain_id) in v,
    "not_domain": lambda s, m, v: _name(s, "domain", m.domain_id) not in v,
    "tags": lambda s, m, v: set(v) <= set(m.tags),
    "not_tags": lambda s, m, v: not set(v) & set(m.tags),
    "arch": lambda s, m, v: m.architecture in v,
    "not_arch": lambda s, m, v: m.architecture not in v,
    "cpu_count": lambda s, m, v: m.cpu_count >= min(v),
    "cpu_speed": lambda s, m, v: m.cpu_speed >= min(v),
    "mem": lambda s, m, v: m.memory >= min(v),
    "pod": lambda s, m, v: _bmc_attr(s, m, "name") in v,
    "not_pod": lambda s, m, v: _bmc_attr(s, m, "name") not in v,
    "pod_type": lambda s, m, v: _bmc_attr(s, m, "power_type") in v,
    "not_pod_type": lambda s, m, v: _bmc_attr(s, m, "power_type") not in v,
    "owner": lambda s, m, v: _name(s, "user", m.owner_id, "username") in v,
    "not_owner": lambda s, m, v: _name(s, "user", m.owner_id, "username") not in v,
    "power_state": lambda s, m, v: m.power_state in v,
    "not_power_state": lambda s, m, v: m.power_state not in v,
    "deployment_target": lambda s, m, v: _target(m) in v,
    "not_deployment_target": lambda s, m, v: _target(m) not in v,
    "mac_address": lambda s, m, v: any(i.mac_address in v for i in s.interfaces_of(m.system_id)),
    "subnets": lambda s, m, v: v <= _subnet_ids(s, m),
    "not_subnets": lambda s, m, v: not v & _subnet_ids(s, m),
    "fabrics": lambda s, m, v: bool(set(v) & _fabric_names(s, m)),
    "not_fabrics": lambda s, m, v: not set(v) & _fabric_names(s, m),
    "fabric_classes": lambda s, m, v: bool(set(v) & _fabric_names(s, m, "class_type")),
    "not_fabric_classes": lambda s, m, v: not set(v) & _fabric_names(s, m, "class_type"),
    "vlans": lambda s, m, v: bool({str(x) for x in _vlan_ids(s, m)} & set(v)),
    "not_vlans": lambda s, m, v: not {str(x) for x in _vlan_ids(s, m)} & set(v),
    "link_speed": lambda s, m, v: any(i.link_speed >= min(v) for i in s.interfaces_of(m.system_id)),
    "devices": lambda s, m, v: False,
    "storage": lambda s, m, v: match_storage(m, v) is not None,
    "interfaces": lambda s, m, v: match_interfaces(s, m, v) is not None,
}


def match_storage(machine, storage: str):
    """``nodes_by_storage`` for one machine: ``{label: [disk ids]}`` or None (first constraint = boot disk)."""
    constraints = parse_storage(storage)
    disks = list(machine.disks)
    result: dict = {}
    for index, (label, size, tags) in enumerate(constraints):
        candidates = disks[:1] if index == 0 else disks
        found = next((d for d in candidates if d["size"] >= size and set(tags) <= set(d.get("tags") or [])), None)
        if found is None:
            return None
        disks.remove(found)
        result.setdefault(label or str(index), []).append(found["id"])
    return result


def match_interfaces(state: State, machine, value: str):
    """``nodes_by_interface`` for one machine: ``{label: [interface ids]}`` or None."""
    wanted = parse_labeled_map(value)
    interfaces = state.interfaces_of(machine.system_id)
    used: set = set()
    result = {}
    for label, constraints in wanted.items():
        found = next((i for i in interfaces if i.id not in used and interface_matches(state, i, constraints)), None)
        if found is None:
            return None
        used.add(found.id)
        result[label] = [found.id]
    return result


def interface_matches(state: State, interface, constraints: dict) -> bool:
    """One interface against ``{key: [values]}`` (the keys the simulator models)."""
    vlan = state.get("vlan", interface.vlan_id) if interface.vlan_id is not None else None
    subnets = [state.get("subnet", s.subnet_id) for s in state.ips_of(interface.id) if s.subnet_id is not None]
    if vlan is not None:
        subnets += [s for s in state.tables["subnet"].values() if s.vlan_id == vlan.id and s not in subnets]
    for key, values in constraints.items():
        for value in values:
            if key == "subnet" and not any(s is not None and s is lookup.subnet_by_specifier(state, value) for s in subnets):
                return False
            if key == "subnet_cidr" and not any(s is not None and s.cidr == value for s in subnets):
                return False
            if key == "ip":
                subnet = lookup.best_subnet_for_ip(state, value)
                if subnet is None or subnet not in subnets:
                    return False
            if key in ("vid", "vlan") and (vlan is None or str(vlan.vid) != value):
                return False
            if key == "fabric" and (vlan is None or state.get("fabric", vlan.fabric_id).name != value):
                return False
            if key == "name" and interface.name != value:
                return False
            if key == "id" and str(interface.id) != value:
                return False
            if key == "mode" and value not in ("unconfigured",) and not any(
                    s.alloc_type != IPType.DISCOVERED for s in state.ips_of(interface.id)):
                return False
    return True
