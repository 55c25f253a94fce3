"""API errors with the status codes and bodies MAAS answers with.

MAAS turns its exceptions into responses in ``maasserver/exceptions.py``
(``MAASAPIException.make_http_response``), ``maasserver/middleware.py``
(``ExceptionMiddleware``) and piston's ``rc`` codes. Each helper below names the
MAAS exception it stands for.
"""

from __future__ import annotations

import json

TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"


class ApiError(Exception):
    """An HTTP error answer: status, body, content type and extra headers."""

    def __init__(self, status: int, body: str = "", content_type: str = TEXT, headers: dict | None = None):
        super().__init__(body)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})
        # Answers piston's resource produces itself (challenge, 405) carry X-MAAS-API-Hash;
        # exceptions handled by the middleware do not.
        self.from_resource = False


def bad_request(message: str) -> ApiError:
    """``MAASAPIBadRequest``: 400 with a plain-text message."""
    return ApiError(400, message)


def validation_error(errors) -> ApiError:
    """``MAASAPIValidationError``: a field dict is JSON, a single message is plain text."""
    if isinstance(errors, dict):
        body = {key: value if isinstance(value, list) else [value] for key, value in errors.items()}
        return ApiError(400, json.dumps(body), JSON)
    if isinstance(errors, (list, tuple)):
        if len(errors) == 1:
            return ApiError(400, str(errors[0]))
        return ApiError(400, json.dumps(list(errors)), JSON)
    return ApiError(400, str(errors))


def forbidden(message: str = "") -> ApiError:
    """``PermissionDenied`` / ``MAASAPIForbidden``: 403, often with an empty body."""
    return ApiError(403, message)


def not_found(model: str) -> ApiError:
    """``get_object_or_404`` miss: ``No <Model> matches the given query.`` (turned into a response by the resource)."""
    error = ApiError(404, f"No {model} matches the given query.")
    error.from_resource = True
    return error


def piston_not_found() -> ApiError:
    """piston's ``rc.NOT_FOUND`` (default ``read`` of a model handler)."""
    error = ApiError(404, "Not Found", HTML)
    error.from_resource = True
    return error


def conflict(message: str) -> ApiError:
    """``NodeStateViolation`` / ``NodesNotAvailable`` / ``StaticIPAddressConflict``: 409."""
    return ApiError(409, message)


def unavailable(message: str) -> ApiError:
    """``PodProblem`` / ``StaticIPAddressExhaustion`` / ``PowerProblem``: 503."""
    return ApiError(503, message)


def ip_unavailable(message: str) -> ApiError:
    """``StaticIPAddressUnavailable``: MAAS answers 404 for an address in use."""
    return ApiError(404, message)


def ip_out_of_range(message: str) -> ApiError:
    """``StaticIPAddressOutOfRange``: 403."""
    return ApiError(403, message)


def internal_error(message: str) -> ApiError:
    """Any exception MAAS does not map (``ExceptionMiddleware``): 500 with its text."""
    return ApiError(500, message)


METHOD_RESERVED_ADMIN = "This method is reserved for admin users."
