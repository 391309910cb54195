"""`ordertools store add|list|remove` and `ordertools settings`: stores and Order Settings."""

from __future__ import annotations

import json

import click

from ordertools import db
from ordertools.amazon import regions
from ordertools.cli.context import CONTEXT, instant, order_book
from ordertools.domain import stores
from ordertools.domain.instants import when
from ordertools.domain.rules import RESERVE_QUANTITY_NEW_ORDERS_ONLY
from ordertools.domain.text import facts, table
from ordertools.queries.store_data import last_sync


@click.group(context_settings=CONTEXT)
def store():
    """Add, list and remove stores (one seller account in one marketplace).

    \b
    Example:
      ordertools store add acme-us --marketplace ATVPDKIKX0DER
      ordertools store list --format json
    """


@store.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--marketplace", "marketplace_id", required=True, help="e.g. ATVPDKIKX0DER (US).")
@click.option("--region", type=click.Choice(["na", "eu", "fe"]), help="Default: the marketplace's.")
@click.option(
    "--endpoint", help="SP-API endpoint URL (e.g. the emulator's). Default: the region's."
)
@click.option("--token-url", help="LWA token URL. Default: https://api.amazon.com/auth/o2/token.")
@click.option("--integrated-at", help="ISO 8601; orders placed before never import. Default: now.")
@click.option(
    "--api-lag", type=click.IntRange(min=0), help="Seconds behind now a sync reads up to."
)
@click.option(
    "--refresh-token-env", metavar="VAR", help="Variable holding this store's refresh token."
)
@click.option("--seller-central-domain", help="For order links, e.g. sellercentral.amazon.de.")
@click.option(
    "--local-order-url", help="Link template for local orders, e.g. https://shop/{number}."
)
@click.pass_context
def store_add(
    ctx,
    name,
    marketplace_id,
    region,
    endpoint,
    token_url,
    integrated_at,
    api_lag,
    refresh_token_env,
    seller_central_domain,
    local_order_url,
):
    """Integrate a store. Orders placed before its integration instant never import.

    \b
    Example:
      ordertools store add acme-us --marketplace ATVPDKIKX0DER --integrated-at 2026-11-01T00:00:00Z
    """
    with db.session(order_book(ctx)) as session:
        added = stores.add_store(
            session,
            name,
            marketplace_id=marketplace_id,
            region=region,
            endpoint=endpoint,
            token_url=token_url,
            integrated_at=instant(integrated_at, "--integrated-at"),
            api_lag_seconds=api_lag,
            refresh_token_env=refresh_token_env,
            seller_central_domain=seller_central_domain,
            local_order_url_template=local_order_url,
        )
        click.echo(
            f"Store {added.name} added ({added.marketplace_id}, integrated "
            f"{added.integrated_at:%Y-%m-%d %H:%M:%SZ}). Next: ordertools sync {added.name}"
        )


def _store_json(s) -> dict:
    return {
        "name": s.name,
        "marketplace_id": s.marketplace_id,
        "region": s.region,
        "endpoint": s.endpoint,
        "token_url": s.token_url,
        "integrated_at": s.integrated_at.isoformat(),
        "api_lag_seconds": s.api_lag_seconds,
        "refresh_token_env": s.refresh_token_env,
        "import_enabled": s.import_enabled,
        "customer_creation": s.customer_creation,
        "order_number_source": s.order_number_source,
        "reserve_quantity": s.reserve_quantity,
        "new_order_status": s.new_order_status,
        "cursor": s.cursor.isoformat() if s.cursor else None,
    }


@store.command("list", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def store_list(ctx, fmt):
    """List the stores: marketplace, Import Amazon Orders, and when each last synced.

    `--format json` gives every Order Setting and the sync cursor, for scripts.

    \b
    Example:
      ordertools store list --format json
    """
    with db.session(order_book(ctx)) as session:
        found = stores.list_stores(session)
        if fmt == "json":
            click.echo(json.dumps([_store_json(s) for s in found], indent=2))
            return
        rows = [
            (
                s.name,
                _marketplace(s.marketplace_id),
                stores.setting_words("import_enabled", s.import_enabled)[1],
                _synced(last_sync(session, s)),
            )
            for s in found
        ]
    if not rows:
        click.echo("No stores yet: add one with `ordertools store add` or try `ordertools demo`.")
        return
    click.echo(table(("Store", "Marketplace", "Import Amazon Orders", "Last sync"), rows))


def _marketplace(marketplace_id: str) -> str:
    """ "Amazon.de (A1PA6795UKMFR9)"; the bare id for a marketplace ordertools does not know."""
    market = regions.marketplace(marketplace_id)
    return f"{market.name} ({marketplace_id})" if market else marketplace_id


def _synced(run) -> str:
    """When the last sync started, "2026-12-02 17:08 UTC", and its outcome unless it succeeded."""
    if run is None:
        return "not synced yet"
    outcome = "" if run.outcome == "success" else f" ({run.outcome})"
    return when(run.started_at) + outcome


@store.command("remove", context_settings=CONTEXT)
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def store_remove(ctx, name, yes):
    """Remove a store and everything stored for it (its orders and local orders).

    \b
    Example:
      ordertools store remove acme-us --yes
    """
    if not yes:
        click.confirm(f"Remove store {name} and all its orders?", abort=True)
    with db.session(order_book(ctx)) as session:
        stores.remove_store(session, name)
    click.echo(f"Store {name} removed.")


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "--import",
    "import_",
    type=click.Choice(["enabled", "disabled"]),
    help="Import Amazon Orders: create local orders (enabled) or only show them.",
)
@click.option("--customer-creation", type=click.Choice(["guest", "create"]))
@click.option("--order-number-source", type=click.Choice(["local", "amazon"]))
@click.option("--reserve-quantity", type=click.Choice(["yes", "no"]))
@click.option("--order-status", help="Status new imports get (default pending, or a custom one).")
@click.option(
    "--locale",
    help="How the store's money reads (e.g. de_DE: 22,90 €); `marketplace`: its marketplace's.",
)
@click.option(
    "--time-zone",
    help="The store's dates on its dashboard (e.g. Europe/Berlin); `marketplace`: its "
    "marketplace's. ORDERTOOLS_TZ still overrides it for a user.",
)
@click.pass_context
def settings(
    ctx,
    name,
    import_,
    customer_creation,
    order_number_source,
    reserve_quantity,
    order_status,
    locale,
    time_zone,
):
    """Show or change a store's Order Settings.

    \b
    Example:
      ordertools settings acme --import disabled
    """
    changes = {
        "import_enabled": None if import_ is None else import_ == "enabled",
        "customer_creation": customer_creation,
        "order_number_source": order_number_source,
        "reserve_quantity": None if reserve_quantity is None else reserve_quantity == "yes",
        "new_order_status": order_status,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    with db.session(order_book(ctx)) as session:
        current = stores.update_settings(session, name, **changes)
        current = stores.set_reading(session, name, locale=locale, time_zone=time_zone)
        data = _store_json(current)
        reads = stores.reading(current)
    said = [
        "{} is now {}".format(*stores.setting_words(key, value)) for key, value in changes.items()
    ]
    if locale is not None:
        said.append(f"Money reads as {_reading(reads.locale, reads.locale_is_marketplaces)}")
    if time_zone is not None:
        zone = _reading(reads.time_zone, reads.time_zone_is_marketplaces)
        said.append(f"Dates are in {zone}")
    if said:
        click.echo(f"Saved: {'; '.join(said)}.")
    click.echo(f"Order Settings of {current.name}:")
    click.echo(
        facts(
            [
                *(stores.setting_words(key, data[key]) for key in stores.SETTING_WORDS),
                ("Money reads as", _reading(reads.locale, reads.locale_is_marketplaces)),
                ("Dates are in", _reading(reads.time_zone, reads.time_zone_is_marketplaces)),
            ]
        )
    )
    if "reserve_quantity" in changes:
        click.echo(RESERVE_QUANTITY_NEW_ORDERS_ONLY)


def _reading(value: str, marketplaces: bool) -> str:
    return f"{value} (the marketplace's)" if marketplaces else value


COMMANDS = (store, settings)
