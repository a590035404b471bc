"""The hub's storage: one interface (`base.Storage`), two engines that pass one test suite.

`sqlite` is the embedded default (one file in COUNTY_HOME); `postgres` is for production,
shared by several hub workers. `open_storage(url)` picks one by the URL's scheme.
"""

from sync.hub.storage.base import SCHEMA, StationRow, Storage, StoredChange, Tx, open_storage

__all__ = ["SCHEMA", "StationRow", "Storage", "StoredChange", "Tx", "open_storage"]
