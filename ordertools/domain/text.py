"""Text in a terminal the way people read it: Amazon's text made harmless, columns that line up.

Buyer names, titles and notes come from Amazon and are untrusted. In a terminal a control
character is not text: a newline or tab breaks a table's row, an escape sequence recolours or
rewrites the screen, a bidirectional override reverses what follows. `clean` replaces each with
something visible and one column wide: a space for the white-space controls (tab, newline,
carriage return, vertical tab, form feed, the Unicode line separators), "?" for every other one
(escape, bell, NUL, DEL, the C1 controls, and the bidirectional embeddings, overrides and
isolates).

Columns are measured as a terminal draws them: East Asian wide and full-width characters
(山田 太郎, ＡＢＣ) take two columns, combining marks and zero-width characters none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

# Line and column breaks, read as the space they stand for (the line separators included).
WHITESPACE_CONTROLS = "\t\n\r\v\f\x85\u2028\u2029"
# Embeddings and overrides (LRE..RLO), isolates (LRI..PDI): they reorder what follows them, up
# to the end of the line. The marks (LRM, RLM) only nudge one character and stay.
_BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_SPACE = {ord(c): " " for c in WHITESPACE_CONTROLS}


def _control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


def clean(text: object) -> str:
    """`text` as one terminal line: white-space controls become spaces, other controls "?"."""
    text = "" if text is None else str(text)
    if text.isprintable():  # the usual case, and fast
        return text
    text = text.translate(_SPACE)
    return "".join("?" if _control(c) else c for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """How many terminal columns `text` (already `clean`) takes."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def shorten(text: str, columns: int) -> str:
    """`text` cut to at most `columns` terminal columns, ending "…" when cut."""
    if width(text) <= columns:
        return text
    kept, used = [], 0
    for char in text:
        w = _char_width(char)
        if used + w > columns - 1:
            break
        kept.append(char)
        used += w
    return "".join(kept) + "…"


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `columns` terminal columns, on the left when `right`."""
    fill = " " * max(columns - width(text), 0)
    return fill + text if right else text + fill


def table(
    headings: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    gap: str = "  ",
) -> str:
    """A plain text table: text columns (and their headings) start at the same column, the
    `numeric` columns (by index: totals, quantities) end at the same column. Every cell is
    `clean`ed, so one row is always one line."""
    right = set(numeric)
    lines, sizes = [], []
    for row in [headings, *rows]:
        line = [c if type(c) is str else "" if c is None else str(c) for c in row]
        joined = "".join(line)
        if joined.isascii() and joined.isprintable():  # most rows: nothing to clean or measure
            sizes.append([len(cell) for cell in line])
        else:
            line = [clean(cell) for cell in line]
            sizes.append([width(cell) for cell in line])
        lines.append(line)
    widths = [max(size[i] for size in sizes) for i in range(len(headings))]
    out = []
    for line, size in zip(lines, sizes, strict=True):
        cells = [
            " " * (widths[i] - size[i]) + cell if i in right else cell + " " * (widths[i] - size[i])
            for i, cell in enumerate(line)
        ]
        out.append(gap.join(cells).rstrip())
    return "\n".join(out)


def facts(rows: Iterable[tuple[str, object]], *, indent: str = "  ") -> str:
    """Label: value lines, the values starting at the same column (labels are ours, values
    `clean`ed)."""
    rows = [(f"{label}:", clean(value)) for label, value in rows]
    if not rows:
        return ""
    at = max(width(label) for label, _ in rows)
    return "\n".join(f"{indent}{pad(label, at)}  {value}".rstrip() for label, value in rows)
