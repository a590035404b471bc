"""The shared core of both halves of the sync protocol.

Everything the station and the county hub must agree on lives here, below both of them:
hybrid logical clocks, the schema model and record validation, sealing, merge and the wire
protocol. Nothing in this package imports `station` or `tui`.
"""
