# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries of the API clients (MAAS and LXD): one backoff, one Retry-After reading, one retry loop.

Each client decides which answers are worth another attempt (``maas/retries.py``,
``lxd/transport.py``); this module decides how often and how long to wait, and keeps the rule
that a request which is not idempotent is never re-sent blindly: only when it certainly did not
reach the server, or after the caller's ``verify`` found that the first attempt took no effect.
"""

from __future__ import annotations

import email.utils
import random
import time

try:
    from urllib3.exceptions import ConnectTimeoutError as _Urllib3ConnectTimeout
    from urllib3.exceptions import NewConnectionError as _Urllib3NewConnection
    _NEVER_CONNECTED = (_Urllib3NewConnection, _Urllib3ConnectTimeout)
except ImportError:  # pragma: no cover - urllib3 comes with requests
    _NEVER_CONNECTED = ()

try:
    import requests.exceptions as _requests_errors
    from requests.exceptions import ConnectTimeout as _RequestsConnectTimeout
except ImportError:  # pragma: no cover - the transports report the missing library
    _requests_errors = None
    _RequestsConnectTimeout = ()

from ansible_collections.lxdcp.maas.plugins.module_utils.errors import first_line, short


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(attempt, base, cap, rand, retry_after=None):
    """Delay before retry number ``attempt`` (1-based): exponential with equal jitter, capped at ``cap``.

    ``rand()`` returns a number in [0, 1). A Retry-After from the server is a lower bound, also capped.
    """
    step = min(cap, base * (2 ** (attempt - 1)))
    delay = step / 2 + step / 2 * rand()
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


class GaveUp(object):
    """Mixin of the clients' "retry budget spent" errors: ``last_error`` is the last failure, ``attempts`` the count."""

    def __init__(self, message, last_error=None, attempts=0, **kwargs):
        super(GaveUp, self).__init__(message, **kwargs)
        self.last_error = last_error
        self.attempts = attempts


class Retryable(Exception):
    """Raised by one attempt of a request whose failure may be retried.

    ``error`` is what to raise if no retry follows; ``reached`` whether the server may have acted on
    the request (False only when it certainly did not); ``retry_after`` the server's Retry-After.
    """

    def __init__(self, error, reached=True, retry_after=None):
        super(Retryable, self).__init__(str(error))
        self.error = error
        self.reached = reached
        self.retry_after = retry_after


class Retrying(object):
    """What the API clients' transports share: retry settings, time, jitter, the log, the request counter, one attempt.

    ``sleep``, ``clock`` and ``rand`` exist so that tests can replace time and jitter; production
    code leaves them alone. A subclass sets ``config_error`` (raised for bad settings), ``session``
    and ``_verify`` (the ``verify`` of every request), and builds its errors in
    ``_tls_error(exc, what)`` and ``_connection_error(exc, what, reason)``.
    """

    config_error = ValueError

    def setup_retries(self, timeout, retries, backoff_base, backoff_max, logger=None, sleep=None, clock=None, rand=None):
        """Check and keep the settings (``config_error`` for a bad one)."""
        if timeout is None or timeout <= 0:
            raise self.config_error("timeout must be a positive number of seconds, not %r" % (timeout,))
        if retries is None or retries < 0:
            raise self.config_error("retries must be 0 or more, not %r" % (retries,))
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._logger = logger
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self._rand = rand or random.random
        self.requests_sent = 0

    def log(self, message):
        """Send one troubleshooting line to the logger (never pass secrets)."""
        if self._logger is not None:
            self._logger(message)

    def backoff_delay(self, attempt, retry_after=None):
        """Delay before retry number ``attempt`` (1-based) with this client's settings (:func:`backoff_delay`)."""
        return backoff_delay(attempt, self.backoff_base, self.backoff_max, self._rand, retry_after)

    def attempt_request(self, attempt, what, method, url, timeout=None, **kwargs):
        """Send attempt number ``attempt`` of one HTTP request and return the response (logged, whatever its status).

        A TLS failure raises the client's TLS error (final: certificates do not change by waiting); a
        connection error, a timeout or an answer cut off raises :class:`Retryable`, which says whether
        the request may have reached the server (only a failed connect proves it did not).
        """
        started = self.clock()
        try:
            self.requests_sent += 1
            response = self.session.request(method, url, timeout=timeout or self.timeout, verify=self._verify,
                                            allow_redirects=False, **kwargs)
        except _requests_errors.SSLError as exc:
            raise self._tls_error(exc, what)
        except _requests_errors.RequestException as exc:
            if isinstance(exc, _requests_errors.Timeout) and not isinstance(exc, _requests_errors.ConnectTimeout):
                reason = "no answer within %s s (timeout)" % (timeout or self.timeout)
            else:
                reason = root_reason(exc)
            failure = self._connection_error(exc, what, reason)
            failure.reason = reason
            self.log("%s -> %s (attempt %d)" % (what, reason, attempt))
            raise Retryable(failure, reached=not never_connected(exc))
        self.log("%s -> %d (attempt %d, %.3f s)" % (what, response.status_code, attempt, self.clock() - started))
        return response

    def with_retries(self, send, what, idempotent=True, verify=None, gave_up=None, outcome_unknown=None):
        """Call ``send(attempt)`` (1-based) until it returns, raises a final error, or the budget is spent.

        ``send`` raises :class:`Retryable` for a failure worth another attempt and anything else for
        a final one. Up to ``retries`` extra attempts follow, after :meth:`backoff_delay`. When the
        request is not ``idempotent`` it is re-sent only after ``verify()`` returned None (the
        earlier attempt took no effect; a value is the earlier attempt's result and is returned),
        or, without ``verify``, when the failure certainly did not reach the server; otherwise
        ``outcome_unknown(error)`` is raised. A spent budget raises ``gave_up(error, attempts,
        seconds)``.
        """
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return send(attempt)
            except Retryable as retryable:
                failure = retryable
            if attempt > self.retries:
                raise gave_up(failure.error, attempt, self.clock() - started)
            if not idempotent:
                if verify is not None:
                    found = verify()
                    if found is not None:
                        self.log("%s: the earlier attempt took effect (verified), not sending it again" % what)
                        return found
                    self.log("%s: verified that the earlier attempt did not take effect" % what)
                elif failure.reached:
                    raise outcome_unknown(failure.error)
            delay = self.backoff_delay(attempt, failure.retry_after)
            self.log("retry %d/%d of %s in %.2f s%s: %s" % (
                attempt, self.retries, what, delay,
                " (Retry-After %.0f s)" % failure.retry_after if failure.retry_after is not None else "",
                first_line(str(failure.error))))
            self.sleep(delay)


def never_connected(exc):
    """True when a requests error proves that the request never reached the server (refused, DNS, connect timeout)."""
    if _RequestsConnectTimeout and isinstance(exc, _RequestsConnectTimeout):
        return True
    return any(_NEVER_CONNECTED and isinstance(cause, _NEVER_CONNECTED) for cause in causes(exc))


def root_reason(exc, limit=300):
    """The innermost readable reason of a requests/urllib3 error, without addresses of Python objects."""
    text = str(list(causes(exc))[-1]).replace("\n", " ")
    # urllib3 prefixes the connection object repr: "<urllib3.connection.HTTPConnection object at 0x..>: Failed to ..."
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return short(text, limit)


def causes(exc):
    """``exc`` and the errors it wraps (``reason`` or a first argument that is an exception), outermost first."""
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = reason if isinstance(reason, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else None)
