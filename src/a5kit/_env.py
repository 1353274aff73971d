"""Set environment variables for a while, then put back what was there: one helper for the kit."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` inside the block (``None``: leave that variable as it is); restore on exit.

    On exit every variable named is as it was before: restored, or removed if it was not set.
    """
    wanted = {k: v for k, v in values.items() if v is not None}
    old = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
