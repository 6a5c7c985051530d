"""Run the `mcx` command with this process's wall clock moved by MCX_FAULT_CLOCK_SKEW seconds.

A process whose clock is wrong is a fault from the outside world (a VM after a pause, a host
without NTP), so the clock is the one thing faked here: `datetime.now`/`utcnow` and
`time.time` are shifted before MCX is imported. PostgreSQL, Redis and everything else are
real. Usage: python -m tests.faults.skewed_clock serve --port N
"""

from __future__ import annotations

import datetime as _datetime
import os
import sys
import time

SKEW = _datetime.timedelta(seconds=float(os.environ.get("MCX_FAULT_CLOCK_SKEW", "0")))
_real_time = time.time


class SkewedDatetime(_datetime.datetime):
    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> SkewedDatetime:
        return super().now(tz) + SKEW

    @classmethod
    def utcnow(cls) -> SkewedDatetime:
        return super().now(_datetime.UTC).replace(tzinfo=None) + SKEW


def _skewed_time() -> float:
    return _real_time() + SKEW.total_seconds()


def main() -> None:
    _datetime.datetime = SkewedDatetime  # type: ignore[misc]
    time.time = _skewed_time
    from app.cli import main as mcx

    sys.exit(mcx(sys.argv[1:]))


if __name__ == "__main__":
    main()
