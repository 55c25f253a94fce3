"""Power types and the ``power_parameters`` form field MAAS builds for them.

MAAS builds the field from each power driver's ``settings`` (``make_setting_field`` in
``provisioningserver/drivers/__init__.py``): ``get_driver_parameters_from_json`` and
``make_form_field`` in ``maasserver/clusterrpc/driver_parameters.py`` turn them into a
``DictCharField`` (``maasserver/config_forms.py``) whose sub-fields are read from the
``power_parameters_<name>`` keys of the request. Its ``clean``:

* ``power_parameters_skip_check=true``: no validation, the given keys are stored as they are;
* a key that is no sub-field: ``Unknown parameter(s): a, b.``;
* no sub-field given at all: ``This field is required.`` when any sub-field is required;
* else each sub-field: a missing value takes the field's default; a required one that is still
  empty is ``<label>: This field is required.``; values are stripped (Django ``CharField``);
  every sub-field ends up in the result ("" when absent and without default).

Only the schemas of ``manual``, ``lxd`` and ``virsh`` are simulated (from ``drivers/power/lxd.py``
and ``drivers/power/virsh.py`` on master; ``drivers/pod/lxd.py`` and ``drivers/pod/virsh.py`` on
3.6, same settings). The other registered types are valid choices whose parameters are stored
as given, unchecked (docs/maas-sim.md).
"""

from __future__ import annotations

import dataclasses
import json

from .errors import ApiError
from .params import REQUIRED, Params


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``make_setting_field`` entry (string/password fields only)."""

    name: str
    label: str
    required: bool = False
    default: str = ""
    node_scope: bool = False
    secret: bool = False


SCHEMAS = {
    "": (),  # no (or an invalid) power type: any parameter is unknown
    "manual": (),
    "lxd": (
        Setting("power_address", "LXD address", required=True),
        Setting("instance_name", "Instance name", required=True, node_scope=True),
        Setting("project", "LXD project", required=True, default="default"),
        Setting("password", "LXD password (optional)", secret=True),
        Setting("certificate", "LXD certificate (optional)"),
        Setting("key", "LXD private key (optional)", secret=True),
    ),
    "virsh": (
        Setting("power_address", "Address", required=True),
        Setting("power_pass", "Password (optional)", secret=True),
        Setting("power_id", "Virsh VM ID", required=True, node_scope=True),
    ),
}

# ``PowerDriverRegistry`` names. 3.6 also registers its pod drivers (lxd, virsh) as power drivers and
# still has nova; master (4.0) dropped nova and has lxd and virsh as plain chassis power drivers.
_COMMON = ("amt", "apc", "dli", "eaton", "hmc", "hmcz", "ipmi", "lxd", "manual", "moonshot", "mscm", "msftocs", "openbmc",
           "proxmox", "raritan", "recs_box", "redfish", "sm15k", "ucsm", "virsh", "vmware", "webhook", "wedge")
POWER_TYPES_3X = frozenset(_COMMON + ("nova",))
POWER_TYPES_40 = frozenset(_COMMON)

SKIP_CHECK = "power_parameters_skip_check"
PREFIX = "power_parameters_"


def power_types(without_vm_hosts: bool) -> frozenset:
    """The valid ``power_type`` choices of this MAAS."""
    return POWER_TYPES_40 if without_vm_hosts else POWER_TYPES_3X


def initial_parameters(data: Params) -> dict:
    """``_get_power_parameters``: the JSON ``power_parameters`` value (defaults for the sub-fields).

    A value that is not JSON is the ``ValidationError`` MAAS raises while building the form: 400 text.
    """
    raw = data.get("power_parameters")
    if raw is None or raw.strip() == "":
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Failed to parse JSON power_parameters") from None
    return parsed if isinstance(parsed, dict) else {}


def submitted(data: Params) -> dict:
    """``DictCharWidget.value_from_datadict``: ``power_parameters_<name>`` keys (skip_check removed)."""
    return {key[len(PREFIX):]: data.get(key) for key in data.keys() if key.startswith(PREFIX) and key != SKIP_CHECK}


def clean(power_type: str, data: Params) -> tuple[dict | None, list]:
    """``(parameters, errors)`` of the ``power_parameters`` field for ``power_type``."""
    values = submitted(data)
    if data.get(SKIP_CHECK) == "true" or power_type not in SCHEMAS:
        return values, []
    settings = SCHEMAS[power_type]
    defaults = initial_parameters(data)
    unknown = [name for name in values if name not in {s.name for s in settings}]
    if unknown:
        return None, ["Unknown parameter(s): %s." % ", ".join(unknown)]
    if all(values.get(s.name) is None for s in settings):
        if any(s.required for s in settings):
            return None, [REQUIRED]
        return {}, []
    cleaned, errors = {}, []
    for setting in settings:
        value = values.get(setting.name)
        default = str(defaults.get(setting.name, setting.default))
        if value is None and default:
            value = default
        # A required CharField with a default has it as ``empty_value``: blanks become the default.
        stripped = (value or "").strip() or (default if setting.required and value else "")
        if setting.required and not stripped:
            errors.append(f"{setting.label}: {REQUIRED}")
            continue
        cleaned[setting.name] = stripped
    return (None, errors) if errors else (cleaned, [])
