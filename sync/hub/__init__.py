"""The county side: everything only the county hub runs.

The hub's rules (`rules.Hub`), the HTTPS app (`http`), the dashboard with its templates,
accounts, the blob store, storage engines (`storage/`), the county home (`county`), the
county CLI (`cli`) and the table exports (`tables`). It stands on the shared core in `sync`;
nothing in `sync` itself, `station` or `tui` imports this package (import-linter says so).
"""
