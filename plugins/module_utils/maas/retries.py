# -*- coding: utf-8 -*-
# Copyright: lxdcp.maas contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which answers of MAAS are worth another attempt.

Retried: connection errors and timeouts, 502, 503, 504, and 409 carrying Retry-After. How often and
how long to wait, and when a non-idempotent request (compose, allocate, reserve...) may be re-sent,
is the same for every client of the collection: ``module_utils/retries.py``.
"""

from __future__ import annotations


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
