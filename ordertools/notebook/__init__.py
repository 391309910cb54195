"""The notebooks' Python: the only code that imports ipywidgets or IPython.

`base` holds what every section shares (`Dashboard`, `Section`, messages, downloads); each page
imports it and no page imports another's internals: `dashboard.StoreDashboard` (the store
dashboard), `all_orders`, `awaiting`, `run_history`, `order_page` (with `order_actions`'s Ship
and Cancel form), `sync_page` (the scheduled sync notebook). `pages` renders the HTML they show,
`launch` serves the notebooks with Voila or JupyterLab.

May import everything below it (sync, fulfillment, queries, runs, domain, db, amazon, errors),
never the CLI or the demo. This package's `__init__` imports nothing, so `launch` loads without
ipywidgets.
"""
