"""Request parameters and the Django/formencode field rules MAAS validates them with.

MAAS reads parameters from Django ``QueryDict`` objects: ``get`` returns the
*last* value of a repeated key, ``getlist`` all of them. Validation messages
below are Django's and formencode's defaults as MAAS surfaces them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from .errors import validation_error


class Params:
    """An ordered multi-valued parameter set (``QueryDict`` semantics)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self._items = [(str(key), str(value)) for key, value in items]

    def get(self, key: str, default=None):
        """Last value for ``key`` (Django ``QueryDict.get``)."""
        for name, value in reversed(self._items):
            if name == key:
                return value
        return default

    def getlist(self, key: str) -> list[str]:
        """Every value for ``key`` in order."""
        return [value for name, value in self._items if name == key]

    def keys(self) -> list[str]:
        """Distinct keys in first-seen order."""
        seen: dict[str, None] = {}
        for name, _value in self._items:
            seen.setdefault(name)
        return list(seen)

    def lists(self) -> list[tuple[str, list[str]]]:
        """``[(key, [values])]`` like ``QueryDict.lists()``."""
        return [(key, self.getlist(key)) for key in self.keys()]

    def items(self) -> list[tuple[str, str]]:
        """Raw ``(key, value)`` pairs."""
        return list(self._items)

    def __contains__(self, key: str) -> bool:
        return any(name == key for name, _value in self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def merged(self, other: "Params") -> "Params":
        """A new set with ``other``'s pairs after this one's."""
        return Params(self._items + other.items())


# --- formencode (``get_optional_param(..., validator=...)``) -----------------

_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


def string_bool(params: Params, key: str, default: bool | None = False) -> bool | None:
    """formencode ``StringBool``: yes/no/on/off/1/0/true/false, anything else is a 400."""
    value = params.get(key)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered == "":
        return None
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise validation_error(f"Invalid {key}: Value should be 'true' or 'false'")


def form_bool(params: Params, key: str) -> bool:
    """Django ``forms.BooleanField`` behind a ``CheckboxInput``: only absent, empty and "false" are false."""
    value = params.get(key)
    if value is None:
        return False
    return value.lower() != "false" and value != ""


def mandatory(params: Params, key: str) -> str:
    """``get_mandatory_param``: a missing key is the plain 400 ``No provided <key>!``."""
    value = params.get(key)
    if value is None:
        raise validation_error(f"No provided {key}!")
    return value


# --- Django form fields -------------------------------------------------------

REQUIRED = "This field is required."


class FieldErrors:
    """Collects ``{field: [messages]}`` like a bound Django form and raises them together."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        """Record one message for ``field``."""
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise the 400 JSON dict when anything was recorded."""
        if self.errors:
            raise validation_error(self.errors)


def _given(errors: FieldErrors, params: Params, key: str, required=False) -> str | None:
    """The stripped value of a Django form field; None when absent or empty (recording REQUIRED if it must be given)."""
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        if required:
            errors.add(key, REQUIRED)
        return None
    return raw.strip()


def int_field(errors: FieldErrors, params: Params, key: str, minimum=None, maximum=None, required=False):
    """Django ``IntegerField``: returns the int, None when absent/empty, or records the error."""
    raw = _given(errors, params, key, required)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        try:
            as_float = float(raw)
        except ValueError:
            as_float = None
        if as_float is None or not as_float.is_integer():
            errors.add(key, "Enter a whole number.")
            return None
        value = int(as_float)
    return _bounded(errors, key, value, minimum, maximum)


def _bounded(errors: FieldErrors, key: str, value, minimum, maximum):
    """Django's ``MaxValueValidator``/``MinValueValidator`` messages; None when out of range."""
    if maximum is not None and value > maximum:
        errors.add(key, f"Ensure this value is less than or equal to {maximum}.")
        return None
    if minimum is not None and value < minimum:
        errors.add(key, f"Ensure this value is greater than or equal to {minimum}.")
        return None
    return value


def float_field(errors: FieldErrors, params: Params, key: str, minimum=None, maximum=None):
    """Django ``FloatField``."""
    raw = _given(errors, params, key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.add(key, "Enter a number.")
        return None
    return _bounded(errors, key, value, minimum, maximum)


def ip_field(errors: FieldErrors, params: Params, key: str, required=False) -> str | None:
    """Django ``GenericIPAddressField``."""
    raw = _given(errors, params, key, required)
    if raw is None:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        errors.add(key, "Enter a valid IPv4 or IPv6 address.")
        return None


def invalid_choice(value) -> str:
    """Django ``ChoiceField``/``ModelChoiceField`` invalid choice text."""
    return f"Select a valid choice. {value} is not one of the available choices."


def model_invalid_choice() -> str:
    """Django ``ModelChoiceField`` invalid choice text (it does not repeat the value)."""
    return "Select a valid choice. That choice is not one of the available choices."


def compose_invalid_choice_text(what: str, value: str, choices: Iterable[str]) -> str:
    """MAAS ``compose_invalid_choice_text``."""
    options = ", ".join(f"'{choice}'" for choice in choices)
    return f"'{value}' is not a valid {what}.  It should be one of: {options}."


_LABEL_CHARS = re.compile(r"[a-zA-Z0-9-]*$")


def hostname_error(hostname: str) -> str | None:
    """MAAS ``validate_hostname`` (RFC 952/1123 labels): the error text, or None when valid."""
    if len(hostname) > 255:
        return "Hostname is too long.  Maximum allowed is 255 characters."
    host_part = hostname.split(".")[0]
    if "_" in host_part:
        return f"Host label cannot contain underscore: {host_part!r}."
    for label in hostname.split("."):
        if not label:
            return "DNS name contains an empty label."
        if len(label) > 63:
            return f"Label is too long: {label!r}.  Maximum allowed is 63 characters."
        if label.startswith("-") or label.endswith("-"):
            return f"Label cannot start or end with hyphen: {label!r}."
        if not _LABEL_CHARS.match(label):
            return f"Label contains disallowed characters: {label!r}."
    return None
