"""The core: what an order, a store and a status mean, and the rules that decide imports.

`rules` decides from data alone (table-tested); `statuses` holds the words people see and type;
`stores` integrates stores and keeps their Order Settings; `local_orders` creates local orders and
follows Amazon's changes through (stock included); `money` and `instants` read and write amounts
and times as people do.

May import: `ordertools.errors`, `ordertools.amazon` (its typed models, never its client or
emulator) and `ordertools.db`. Imported by everything above it.
"""
