# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When the MAAS client retries, and how long it waits: bounded exponential backoff with jitter.

Retried: connection errors and timeouts, 502, 503, 504, and 409 carrying Retry-After. A
non-idempotent request (compose, allocate, reserve...) is only re-sent when MAAS certainly did not
act on it, or after its caller's ``verify`` found that the first attempt took no effect
(``transport.MaasTransport.request``).
"""

from __future__ import annotations

import email.utils
import time


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

    ``rand()`` returns a number in [0, 1). A Retry-After from MAAS is a lower bound, also capped.
    """
    step = min(cap, base * (2 ** (attempt - 1)))
    delay = step / 2 + step / 2 * rand()
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def answer_may_have_acted(status, idempotent, retry_after):
    """For an error answer: None when it is final (raise it), else whether MAAS may have acted on the request.

    409 with Retry-After: MAAS rolled the transaction back and asks to come back. 503: MAAS refused;
    for a non-idempotent request only with Retry-After is it a "come back later" (without, it is
    MAAS's final answer, for example "Unable to compose ..."). 502/504 say nothing about what MAAS did.
    """
    if status == 409 and retry_after is not None:
        return False
    if status == 503:
        if not idempotent and retry_after is None:
            return None
        return False
    if status in (502, 504):
        return True
    return None
