"""The station: its encrypted local store, keyslots and domain rules.

`station.Store` is the one Python API that the CLI and the TUI translate into.
"""

from station.store import Store

__all__ = ["Store"]
