"""Everything that talks to, or stands in for, Amazon's Selling Partner API.

`client` (with `auth`, `ratelimit`, `regions`, `feeds`) speaks SP-API and hands back typed
`models`; `errors` is Amazon's part of the error tree; `connect` turns a store into a client.
May import only `ordertools.errors`. `emulator/` imports this package and is imported only by
the demo, the benches and the tests (an import-linter contract keeps it so).
"""
