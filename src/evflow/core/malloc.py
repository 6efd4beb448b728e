"""Process-wide allocator tuning for CPU inference and training loops (glibc only)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_MALLOC_TUNED = False


def retain_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 30) -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the system (Linux/glibc only).

    Every step allocates tens of MB of fresh activations. By default glibc serves such blocks with ``mmap``
    and unmaps them when freed, so the next step page-faults every page again: at 240x320 that cost about
    as much as the network itself (eminet at 240x320 on the 2-core benchmark machine: 21-26 frames/s
    instead of 41-42 in the fused step; a CPU training step took 1.5x longer). With
    large blocks kept on the heap the steady state reuses the same pages. Process-wide and idempotent; the
    process then keeps its peak memory. Both thresholds are C ``int`` (at most 2**31 - 1). Returns whether the
    setting was applied.
    """
    if not (0 < mmap_threshold < 2**31 and 0 < trim_threshold < 2**31):
        raise ValueError("mallopt thresholds must be positive C ints (< 2**31)")
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return False
    _MALLOC_TUNED = ok
    return ok
