"""Money the way people read it, and the decimal strings exports carry."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def money(total: Decimal | None, currency: str | None, locale: str = "en_US") -> str:
    """A total the way people read it in `locale`: "$84.00", "1.980 ¥" (Babel, CLDR data)."""
    if total is None:
        return ""
    if not currency:
        return str(total)
    return format_currency(total, currency, locale=locale)


def money_string(total: Decimal | None, currency: str | None) -> str | None:
    """The decimal string exports carry: the currency's own precision (84.00, 1980)."""
    if total is None:
        return None
    digits = get_currency_precision(currency) if currency else 2
    return str(total.quantize(Decimal(1).scaleb(-digits)))
