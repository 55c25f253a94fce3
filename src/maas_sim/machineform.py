"""``POST /machines/``: the machine-creation form as MAAS validates it (3.6 and master alike).

``MachinesHandler.create`` (``maasserver/api/machines.py``) reads ``commission`` (StringBool,
default true) and ``deployed`` (default false), then ``create_machine``: ``fix_architecture``
(``amd64`` -> ``amd64/generic``, ``architecture`` + ``subarchitecture`` joined, both with a ``/``
is ``Subarchitecture cannot be specified twice.``), the hwe texts, and the form of
``get_machine_create_form`` (``maasserver/forms/__init__.py``): ``AdminMachineWithMACAddressesForm``
for admins, ``MachineWithPowerAndMACAddressesForm`` for the others (no zone, pool, description,
cpu_count, memory or deployed). Its errors are one 400 JSON object ``{field: [messages]}``:

* ``architecture``: required unless ``power_type`` is ipmi (or deployed without power type)
  (``requires_macs_and_architecture``); choices are the usable architectures.
* ``mac_addresses``: required likewise; ``'<v>' is not a valid MAC address.``
  (``MAC_FIELD_VALIDATOR``, searched as a regex); with several MACs one message
  ``One or more MAC addresses is invalid. (<errors joined by " — ">)``; a MAC another node has:
  ``MAC address <mac> already in use on <hostname>.``
* ``domain`` by id or name (``Unable to find domain <v>``); ``zone``/``pool`` by name (Django's
  ``ModelChoiceField`` text); ``cpu_count``/``memory`` integers; ``swap_size`` with K/M/G/T.
* ``power_type``: a registered driver (``Select a valid choice. <v> is not one of the available
  choices.``); anything but ipmi needs a MAC (``Can't set power type to <t> without network
  interfaces``); ``power_parameters``: see ``powertypes.py``.
* model checks: ``hostname`` (``validate_hostname``, 255 characters, ``Nonexistant domain.`` for an
  FQDN with an unknown domain, ``Node with this Hostname already exists.``).

Saved: status New (Deployed and owned by the caller with ``deployed``), power type and parameters
(an lxd machine without certificate and key gets a generated pair, ``WithPowerTypeMixin.set_values``),
one physical interface per MAC (eth0, eth1...), a pet name for an empty or IP-based hostname.
"""

from __future__ import annotations

import re

from . import builders, certs, lookup, powertypes
from .enums import NodeStatus
from .errors import internal_error, validation_error
from .params import (
    REQUIRED,
    FieldErrors,
    compose_invalid_choice_text,
    hostname_error,
    int_field,
    invalid_choice,
    model_invalid_choice,
    string_bool,
)

ARCHITECTURES = ("amd64/generic", "arm64/generic")
HWE_RE = re.compile("(hwe|ga)-.+")
IP_BASED_HOSTNAME_RE = re.compile(r"\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}$")
# ``MAC_FIELD_RE`` (maascommon/fields.py), used with ``re.search`` by Django's RegexValidator.
MAC_FIELD_RE = re.compile(
    r"^([0-9a-fA-F]{1,2}:){5}[0-9a-fA-F]{1,2}|([0-9a-fA-F]{1,2}-){5}[0-9a-fA-F]{1,2}|([0-9a-fA-F]{3,4}.){2}[0-9a-fA-F]{3,4}$")
_SWAP_UNITS = {"K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def normalise_mac(mac: str) -> str:
    """``normalise_macaddress``: lower case, colon-separated, two digits per byte."""
    tokens = re.split(r"[-:.]", mac.lower())
    if len(tokens) == 1:
        tokens = re.findall("..", tokens[0])
    elif len(tokens) == 3:
        tokens = [pair for token in tokens for pair in re.findall("..", token.zfill(4))]
    else:
        tokens = [token.zfill(2) for token in tokens]
    return ":".join(tokens)


def fix_architecture(architecture: str | None, subarchitecture: str | None) -> str | None:
    """``fix_architecture`` of ``api/machines.py``."""
    if architecture and "/" in architecture:
        if subarchitecture:
            raise validation_error("Subarchitecture cannot be specified twice.")
        return architecture
    if architecture:
        return f"{architecture}/{subarchitecture}" if subarchitecture else f"{architecture}/generic"
    return architecture


def kernel_levels(state) -> set:
    """The kernels ``min_hwe_kernel`` may name: ga-/hwe- of every release of the scenario."""
    return {f"{prefix}-{release.get('version', '')}" for release in state.meta.get("os_releases", []) for prefix in ("ga", "hwe")}


class MachineCreateForm:
    """The create form of one request: ``errors()`` then ``save()``."""

    def __init__(self, state, data, user, without_vm_hosts: bool):
        self.state = state
        self.data = data
        self.user = user
        self.admin = user.is_superuser
        self.without_vm_hosts = without_vm_hosts
        self.fields: dict = {}
        self.errors = FieldErrors()
        self.deployed = bool(string_bool(data, "deployed")) if self.admin else False
        power_type = data.get("power_type", "unknown")
        self.needs_macs_and_arch = not (power_type == "ipmi" or (string_bool(data, "deployed", default=None) and power_type == "unknown"))

    # --- fields --------------------------------------------------------------

    def _architecture(self) -> None:
        architecture = fix_architecture(self.data.get("architecture"), self.data.get("subarchitecture"))
        given = [value for value in (self.data.get("architecture"), self.data.get("subarchitecture")) if value]
        if any(HWE_RE.search(value) for value in given):
            raise validation_error("hwe kernel must be specified using the min_hwe_kernel argument.")
        min_hwe = self.data.get("min_hwe_kernel")
        if min_hwe and not HWE_RE.search(min_hwe):
            raise validation_error('min_hwe_kernel must start with "hwe-" or "ga-"')
        if not architecture:
            if self.needs_macs_and_arch:
                self.errors.add("architecture", REQUIRED)
        elif architecture not in ARCHITECTURES:
            self.errors.add("architecture", compose_invalid_choice_text("architecture", architecture, sorted(ARCHITECTURES)))
        else:
            self.fields["architecture"] = architecture
        if min_hwe:
            if min_hwe not in kernel_levels(self.state):
                self.errors.add("min_hwe_kernel", f'No kernel matches ">={min_hwe}" requirement.')
            else:
                self.fields["min_hwe_kernel"] = min_hwe

    def _macs(self) -> None:
        macs = [mac for mac in self.data.getlist("mac_addresses") if mac]
        if not macs:
            if self.needs_macs_and_arch:
                self.errors.add("mac_addresses", REQUIRED)
            self.fields["mac_addresses"] = []
            return
        problems = []
        for mac in macs:
            message = f"'{mac.strip()}' is not a valid MAC address."
            if not MAC_FIELD_RE.search(mac.strip()) and message not in problems:
                problems.append(message)
        if not problems:
            cleaned = [normalise_mac(mac.strip()) for mac in macs]
            for mac in cleaned:
                other = next((i for i in self.state.all("interface") if i.mac_address == mac and i.type != "unknown"), None)
                if other is not None:
                    owner = self.state.get("machine", other.system_id) if other.system_id else None
                    problems.append(f"MAC address {mac} already in use{' on ' + owner.hostname if owner else ''}.")
            if not problems:
                self.fields["mac_addresses"] = cleaned
        if problems and len(macs) > 1:
            problems = ["One or more MAC addresses is invalid. (%s)" % " \u2014 ".join(problems[:10])
                        + ("" if len(problems) <= 10 else f" and {len(problems) - 10} more error{'s' if len(problems) > 11 else ''}")]
        for problem in problems:
            self.errors.add("mac_addresses", problem)

    def _domain(self) -> None:
        value = (self.data.get("domain") or "").strip()
        if not value:
            return
        if value.isdigit():
            domain = self.state.get("domain", int(value))
            if domain is None:
                raise internal_error("Domain matching query does not exist.")
        else:
            domain = self.state.find("domain", name=value)
            if domain is None:
                self.errors.add("domain", f"Unable to find domain {value}")
                return
        self.fields["domain_id"] = domain.id

    def _admin_fields(self) -> None:
        for key, kind in (("zone", "zone"), ("pool", "pool")):
            value = self.data.get(key)
            if value:
                obj = self.state.find(kind, name=value)
                if obj is None:
                    self.errors.add(key, model_invalid_choice())
                else:
                    self.fields[f"{key}_id"] = obj.id
        for key in ("cpu_count", "memory"):
            value = int_field(self.errors, self.data, key)
            if value is not None:
                self.fields[key] = value
        if self.data.get("description") is not None:
            self.fields["description"] = self.data.get("description")

    def _swap_size(self) -> None:
        value = (self.data.get("swap_size") or "").strip()
        if not value:
            return
        if value[-1] in _SWAP_UNITS:
            try:
                self.fields["swap_size"] = int(value[:-1]) * _SWAP_UNITS[value[-1]]
            except ValueError as exc:  # not handled by MAAS either: a 500 with Python's text
                raise internal_error(str(exc)) from None
            return
        try:
            self.fields["swap_size"] = int(value)
        except ValueError:
            self.errors.add("swap_size", f"Invalid size for swap: {value}")

    def _power(self) -> None:
        power_type = self.data.get("power_type")
        known = powertypes.power_types(self.without_vm_hosts)
        if power_type and power_type not in known:
            self.errors.add("power_type", invalid_choice(power_type))
        chosen = power_type if power_type in known else ""
        parameters, problems = powertypes.clean(chosen, self.data)
        for problem in problems:
            self.errors.add("power_parameters", problem)
        if chosen and chosen != "ipmi" and not self.fields.get("mac_addresses"):
            self.errors.add("power_type", f"Can't set power type to {chosen} without network interfaces")
        self.fields["power_type"] = chosen
        # ``check_driver``: without a power type the parameters are reset.
        self.fields["power_parameters"] = (parameters or {}) if chosen else {}

    def _hostname(self) -> None:
        hostname = (self.data.get("hostname") or "").strip()
        if not hostname:
            self.fields["hostname"] = ""
            return
        problems = []
        if len(hostname) > 255:
            problems.append(f"Ensure this value has at most 255 characters (it has {len(hostname)}).")
        problem = hostname_error(hostname)
        if problem:
            problems.append(problem)
        if "." in hostname:
            hostname, domain_name = hostname.split(".", 1)
            domain = self.state.find("domain", name=domain_name)
            if domain is None:
                problems.append("Nonexistant domain.")
            else:
                self.fields["domain_id"] = domain.id
        if not problems and lookup.machine_by_hostname(self.state, hostname) is not None:
            problems.append("Node with this Hostname already exists.")
        for problem in problems:
            self.errors.add("hostname", problem)
        self.fields["hostname"] = hostname

    def validate(self) -> None:
        """Run every check; raise MAAS's 400 (or the 500s MAAS does not catch)."""
        self._architecture()
        self._domain()
        self._swap_size()
        if self.admin:
            self._admin_fields()
        self._macs()
        self._power()
        self._hostname()
        self.errors.raise_if_any()

    # --- saving --------------------------------------------------------------

    def save(self):
        """Create the machine (status New, or Deployed for ``deployed``)."""
        state = self.state
        fields = self.fields
        hostname = fields.pop("hostname") or None
        if hostname and IP_BASED_HOSTNAME_RE.match(hostname):
            hostname = None
        parameters = dict(fields.pop("power_parameters"))
        if fields["power_type"] == "lxd" and not parameters.get("certificate") and not parameters.get("key"):
            parameters["certificate"], parameters["key"] = generated_certificate(state)
        macs = fields.pop("mac_addresses", [])
        fields.setdefault("architecture", "")
        status = NodeStatus.DEPLOYED if self.deployed else NodeStatus.NEW
        machine = builders.create_machine(
            state, hostname=hostname, status=status, owner_id=self.user.id if self.deployed else None,
            power_state="unknown", power_parameters=parameters, cpu_count=fields.pop("cpu_count", 0),
            memory=fields.pop("memory", 0), status_message="Deployed" if self.deployed else "", **fields)
        for index, mac in enumerate(macs):
            builders.create_interface(state, machine, f"eth{index}", None, mac=mac)
        return machine


def maas_identity(state) -> tuple[str, str]:
    """``(maas_name, MAAS uuid)`` of the simulated region (set by the scenario)."""
    return state.meta.get("maas_name", "maas-sim"), state.meta.get("maas_uuid", "")


def generated_certificate(state) -> tuple[str, str]:
    """``generate_certificate(maas_name)``: a new pair for an lxd machine given none."""
    name, uuid = maas_identity(state)
    return certs.generate(name, "MAAS", uuid)
