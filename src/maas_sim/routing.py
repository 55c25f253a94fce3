"""Handlers, operations and URL routing, modelled on MAAS's piston handlers.

A handler class serves one URL pattern. Its CRUD methods (``read``,
``create``, ``update``, ``delete``) answer GET/POST/PUT/DELETE without ``op``;
methods decorated with ``@operation`` answer ``op=<name>`` (GET for
idempotent operations, POST for the others), also routable as
``.../op-<name>`` like MAAS 3.3+. The same table drives dispatch, the 405/400
answers and ``describe/``, so the description never lists what is not served.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import re
from typing import ClassVar

from .errors import METHOD_RESERVED_ADMIN, forbidden
from .params import Params

API_ROOT = "/MAAS/api/2.0/"
CRUD = {"GET": "read", "POST": "create", "PUT": "update", "DELETE": "delete"}


@dataclasses.dataclass
class Context:
    """One API request as handlers see it."""

    state: object
    sim: object
    user: object
    method: str
    path: str
    query: Params
    post: Params  # ``request.POST``: form-encoded or multipart fields
    data: Params  # piston's ``request.data``: POST/PUT body (also JSON bodies)
    base_url: str
    op: str | None = None


@dataclasses.dataclass
class Raw:
    """A ready-made response body: bytes, or a list of byte strings sent one after the other (large lists)."""

    body: bytes | list
    content_type: str = "application/json; charset=utf-8"
    status: int = 200


NO_CONTENT = Raw(b"", "text/html; charset=utf-8", 204)


def operation(idempotent: bool, exported_as: str | None = None):
    """Export a method as ``op=<name>`` (GET when idempotent, else POST)."""

    def decorate(func):
        func.export = ("GET" if idempotent else "POST", exported_as or func.__name__)
        return func

    return decorate


def admin_method(func):
    """Answer 403 ``This method is reserved for admin users.`` to non-admins."""

    @functools.wraps(func)
    def wrapper(self, ctx, *args, **kwargs):
        if not ctx.user.is_superuser:
            raise forbidden(METHOD_RESERVED_ADMIN)
        return func(self, ctx, *args, **kwargs)

    return wrapper


class Handler:
    """Base of all API handlers."""

    path: ClassVar[str] = ""
    param_patterns: ClassVar[dict] = {}
    anonymous: ClassVar[type | None] = None
    requires_auth: ClassVar[bool] = True
    vm_host_api: ClassVar[bool] = False
    # Served but not a piston resource, so not listed by describe/ (MAAS's describe view itself).
    undescribed: ClassVar[bool] = False
    exports: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        exports = {}
        for method, name in CRUD.items():
            if callable(getattr(cls, name, None)):
                exports[(method, None)] = name
        for name, member in inspect.getmembers(cls, callable):
            export = getattr(member, "export", None)
            if export is not None:
                exports[export] = name
        cls.exports = exports

    @classmethod
    def allowed_methods(cls) -> set:
        """HTTP methods any export of this handler uses."""
        return {method for method, _op in cls.exports}

    @classmethod
    def ops(cls) -> set:
        """Names of the ``op=`` operations."""
        return {op for _method, op in cls.exports if op}


def _pattern(template: str, params: dict) -> str:
    """Regex for a path template like ``machines/{system_id}/``."""
    out, last = [], 0
    for match in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[last:match.start()]))
        out.append(f"(?P<{match.group(1)}>{params.get(match.group(1), '[^/]+')})")
        last = match.end()
    out.append(re.escape(template[last:]))
    return "".join(out)


class Router:
    """Matches API paths to handlers and describes them."""

    def __init__(self, handlers):
        self.handlers = list(handlers)
        self._routes = []
        for handler in self.handlers:
            pattern = re.compile(_pattern(handler.path, handler.param_patterns) + r"\Z")
            # MAAS 3.3+ also routes every op as ``<path without its last slash>/op-<name>`` (``re_path`` in
            # ``urls_api.py`` replaces the route's final ``/$``; routes without one get no op route).
            op_pattern = None
            if handler.path.endswith("/"):
                op_pattern = re.compile(_pattern(handler.path[:-1], handler.param_patterns) + r"/op-(?P<_op>[^/]+)\Z")
            self._routes.append((pattern, op_pattern, handler))

    def match(self, relative: str):
        """``(handler, kwargs, path_op)`` for a path below the API root, or None."""
        for regex, op_regex, handler in self._routes:
            found = regex.match(relative)
            if found:
                return handler, found.groupdict(), None
            found = op_regex.match(relative) if op_regex is not None else None
            if found:
                kwargs = found.groupdict()
                op = kwargs.pop("_op")
                known = handler.ops() | (handler.anonymous.ops() if handler.anonymous else set())
                if op in known:
                    return handler, kwargs, op
        return None

    def describe(self, base_url: str, hide_vm_hosts: bool = False) -> dict:
        """The ``describe/`` document (``maasserver/api/doc.py``)."""
        resources = []
        for handler in self.handlers:
            if handler.undescribed or (hide_vm_hosts and handler.vm_host_api):
                continue
            described = _describe_handler(handler, base_url)
            if handler.requires_auth:
                anon = _describe_handler(handler.anonymous, base_url) if handler.anonymous else None
                resources.append({"anon": anon, "auth": described, "name": described["name"]})
            else:
                resources.append({"anon": described, "auth": None, "name": described["name"]})
        resources.sort(key=lambda item: item["name"])
        handlers = [r["anon"] for r in resources if r["anon"]] + [r["auth"] for r in resources if r["auth"]]
        return {"doc": "MAAS API", "resources": resources, "handlers": handlers}

    def api_hash(self, hide_vm_hosts: bool = False) -> str:
        """SHA-1 of the description (``X-MAAS-API-Hash``)."""
        description = self.describe("", hide_vm_hosts)
        return hashlib.sha1(json.dumps(description, sort_keys=True).encode()).hexdigest()


def _describe_handler(handler, base_url: str) -> dict:
    """One handler's entry: name, doc, params, path, uri and sorted actions."""
    path = API_ROOT + handler.path
    actions = []
    for (method, op), attribute in sorted(handler.exports.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        actions.append(
            {
                "method": method,
                "name": op or CRUD[method],
                "doc": inspect.getdoc(getattr(handler, attribute)),
                "op": op,
                "restful": op is None,
            }
        )
    actions.sort(key=lambda item: item["name"])
    return {
        "name": handler.__name__,
        "doc": inspect.getdoc(handler),
        "params": re.findall(r"\{(\w+)\}", handler.path),
        "path": path,
        "uri": base_url + path if base_url else path,
        "actions": actions,
    }
