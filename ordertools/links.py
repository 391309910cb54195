"""Links in the HTML we render: which URLs may be clicked, and the one way an anchor is written.

Amazon's text is untrusted, so a link's text arrives already escaped and its address is
attribute-escaped here; only https pages (Seller Central, a shop's admin) or pages on this machine
(the toolkit's own order page under Voila, JupyterLab) are ever made clickable.
"""

from __future__ import annotations

import html


def safe_href(url: str | None) -> str | None:
    """`url` when it may be clicked, else None."""
    if url and (
        url.startswith("https://")
        or url.startswith("http://localhost")
        or url.startswith("http://127.0.0.1")
    ):
        return url
    return None


def anchor(text_html: str, href: str) -> str:
    """`text_html` (already escaped) as a link opening `href` in a new tab."""
    return (
        f'<a href="{html.escape(href, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{text_html}</a>'
    )


def link(text_html: str, url: str | None) -> str:
    """An anchor when `url` may be clicked, else the text alone."""
    href = safe_href(url)
    return anchor(text_html, href) if href else text_html
