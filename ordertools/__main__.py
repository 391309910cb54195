"""`python -m ordertools ...`: the same CLI as the `ordertools` command."""

from .cli import main

main(prog_name="ordertools")
