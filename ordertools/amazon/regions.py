"""Where Amazon lives: SP-API regions, their hosts, and the marketplaces we know.

A store names a marketplace id; from it we derive the region (which SP-API host to call), the
currency its orders are in, and the Seller Central domain that "view only" order links open.
Every derived value can be overridden per store, so a marketplace Amazon adds tomorrow still
works when the user passes `--region` and `--endpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_ENDPOINTS = {
    region: url.replace("https://", "https://sandbox.") for region, url in ENDPOINTS.items()
}


@dataclass(frozen=True)
class Marketplace:
    id: str
    country: str
    name: str
    region: str
    currency: str
    seller_central: str  # domain only, e.g. "sellercentral.amazon.de"

    @property
    def locale(self) -> str:
        """How its people read money and dates, as a Babel locale ("de_DE": 22,90 €)."""
        return _READING.get(self.country, ("en_US", "UTC"))[0]

    @property
    def time_zone(self) -> str:
        """The marketplace's usual time zone (an IANA name): the one its sellers work in."""
        return _READING.get(self.country, ("en_US", "UTC"))[1]


# Per country: the locale and time zone a marketplace's sellers read (a store may choose others).
_READING = {
    "US": ("en_US", "America/Los_Angeles"),
    "CA": ("en_CA", "America/Toronto"),
    "MX": ("es_MX", "America/Mexico_City"),
    "BR": ("pt_BR", "America/Sao_Paulo"),
    "IE": ("en_IE", "Europe/Dublin"),
    "ES": ("es_ES", "Europe/Madrid"),
    "GB": ("en_GB", "Europe/London"),
    "FR": ("fr_FR", "Europe/Paris"),
    "BE": ("fr_BE", "Europe/Brussels"),
    "NL": ("nl_NL", "Europe/Amsterdam"),
    "DE": ("de_DE", "Europe/Berlin"),
    "IT": ("it_IT", "Europe/Rome"),
    "SE": ("sv_SE", "Europe/Stockholm"),
    "ZA": ("en_ZA", "Africa/Johannesburg"),
    "PL": ("pl_PL", "Europe/Warsaw"),
    "EG": ("ar_EG", "Africa/Cairo"),
    "TR": ("tr_TR", "Europe/Istanbul"),
    "SA": ("ar_SA", "Asia/Riyadh"),
    "AE": ("ar_AE", "Asia/Dubai"),
    "IN": ("en_IN", "Asia/Kolkata"),
    "SG": ("en_SG", "Asia/Singapore"),
    "AU": ("en_AU", "Australia/Sydney"),
    "JP": ("ja_JP", "Asia/Tokyo"),
}


def seller_central_order_url(domain: str, order_id: str) -> str:
    return f"https://{domain}/orders-v3/order/{order_id}"


_M = Marketplace
MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in [
        _M("ATVPDKIKX0DER", "US", "Amazon.com", "na", "USD", "sellercentral.amazon.com"),
        _M("A2EUQ1WTGCTBG2", "CA", "Amazon.ca", "na", "CAD", "sellercentral.amazon.ca"),
        _M("A1AM78C64UM0Y8", "MX", "Amazon.com.mx", "na", "MXN", "sellercentral.amazon.com.mx"),
        _M("A2Q3Y263D00KWC", "BR", "Amazon.com.br", "na", "BRL", "sellercentral.amazon.com.br"),
        _M("A28R8C7NBKEWEA", "IE", "Amazon.ie", "eu", "EUR", "sellercentral.amazon.ie"),
        _M("A1RKKUPIHCS9HS", "ES", "Amazon.es", "eu", "EUR", "sellercentral.amazon.es"),
        _M("A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "eu", "GBP", "sellercentral.amazon.co.uk"),
        _M("A13V1IB3VIYZZH", "FR", "Amazon.fr", "eu", "EUR", "sellercentral.amazon.fr"),
        _M("AMEN7PMS3EDWL", "BE", "Amazon.com.be", "eu", "EUR", "sellercentral.amazon.com.be"),
        _M("A1805IZSGTT6HS", "NL", "Amazon.nl", "eu", "EUR", "sellercentral.amazon.nl"),
        _M("A1PA6795UKMFR9", "DE", "Amazon.de", "eu", "EUR", "sellercentral.amazon.de"),
        _M("APJ6JRA9NG5V4", "IT", "Amazon.it", "eu", "EUR", "sellercentral.amazon.it"),
        _M("A2NODRKZP88ZB9", "SE", "Amazon.se", "eu", "SEK", "sellercentral.amazon.se"),
        _M("AE08WJ6YKNBMC", "ZA", "Amazon.co.za", "eu", "ZAR", "sellercentral.amazon.co.za"),
        _M("A1C3SOZRARQ6R3", "PL", "Amazon.pl", "eu", "PLN", "sellercentral.amazon.pl"),
        _M("ARBP9OOSHTCHU", "EG", "Amazon.eg", "eu", "EGP", "sellercentral.amazon.eg"),
        _M("A33AVAJ2PDY3EV", "TR", "Amazon.com.tr", "eu", "TRY", "sellercentral.amazon.com.tr"),
        _M("A17E79C6D8DWNP", "SA", "Amazon.sa", "eu", "SAR", "sellercentral.amazon.sa"),
        _M("A2VIGQ35RCS4UG", "AE", "Amazon.ae", "eu", "AED", "sellercentral.amazon.ae"),
        _M("A21TJRUUN4KGV", "IN", "Amazon.in", "eu", "INR", "sellercentral.amazon.in"),
        _M("A19VAU5U5O7RUS", "SG", "Amazon.sg", "fe", "SGD", "sellercentral.amazon.sg"),
        _M("A39IBJ37TRP1C6", "AU", "Amazon.com.au", "fe", "AUD", "sellercentral.amazon.com.au"),
        _M("A1VC38T7YXB528", "JP", "Amazon.co.jp", "fe", "JPY", "sellercentral.amazon.co.jp"),
    ]
}


def marketplace(marketplace_id: str) -> Marketplace | None:
    """The marketplace with this id, or None when it is not in our table."""
    return MARKETPLACES.get(marketplace_id)


def endpoint_for(region: str, *, sandbox: bool = False) -> str:
    table = SANDBOX_ENDPOINTS if sandbox else ENDPOINTS
    try:
        return table[region]
    except KeyError:
        raise ValueError(f"unknown region {region!r}: use one of {', '.join(ENDPOINTS)}") from None
