"""`python -m ordertools ...`: the same CLI as the `ordertools` command."""

from ordertools.cli import main

main(prog_name="ordertools")
