"""Reading the order book for people: Recent/All Orders, search, one order, store data, exports.

`orders` lists and counts with `filters.OrderFilters`, planned by `search`; `detail` tells one
order's story; `store_data` sums sales; `views` keeps saved views; `links` decides where an order
number links (the local order, else Seller Central) and how a link is written; `exports` renders
a listing as a table, JSON, CSV, HTML or XLSX. Nothing here writes an order.

May import: `ordertools.domain`, `ordertools.db`, `ordertools.errors`. Imported by the sync
report, the notebooks, the CLI and the demo.
"""
