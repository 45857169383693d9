"""Keep the garbage collector's full passes short in a process that streams.

A room's media loop shares the GIL with everything else in its process: a full collection
walks every object the process ever made (dictionaries, models, the app's routes), and while
it runs no frame is drawn. At start-up those objects are made once and live for good, so they
are moved out of the collector's sight; what is made afterwards is collected as before."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect the start-up garbage, then freeze what survived (call once, after start-up)."""
    gc.collect()
    gc.freeze()
