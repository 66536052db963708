"""Student text made safe for humans: what a terminal, a feedback file or a web page shows.

A submission controls the text of its output and its exceptions (and, in a batch, the names of
its folders). Shown raw, that text can clear a TA's screen, draw a fake "ALL TESTS PASSED",
hide a hyperlink (OSC 8) or reorder a line (bidirectional overrides). ``visible`` turns every
such character into a visible escape (``\\x1b``, ``\\u202e``); ``visible_html`` also escapes
HTML for pages. Only what humans read goes through these: ``results.json`` keeps the exact text.
"""
from __future__ import annotations

import html
import unicodedata

# Unicode categories that never belong in text shown to a person: controls, formatting
# characters (bidi overrides, zero-width), line/paragraph separators, lone surrogates.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_KEPT = {"\n", "\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text) -> str:
    """``text`` with every control or invisible formatting character shown as an escape.

    Newlines and tabs stay; ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` (which would let a line
    overwrite itself) is shown as ``\\x0d``. Non-strings are converted with ``str``.
    """
    text = str(text).replace("\r\n", "\n")
    if text.isprintable():  # the common case: nothing to do
        return text
    return "".join(_escape(c) if c not in _KEPT and unicodedata.category(c) in _HIDDEN_CATEGORIES
                   else c for c in text)


def visible_html(text) -> str:
    """``visible(text)`` with ``& < > " '`` escaped, for HTML pages."""
    return html.escape(visible(text), quote=True)


# A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell that starts with one of these
# as a formula: ``=cmd|' /C calc'!A0``, ``+SUM(A1)``, ``@SUM(A1)``, and a tab or a line break
# before them. OWASP's advice: such a cell gets a leading ``'``, which the spreadsheet shows as
# text and does not display.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_cell(text) -> str:
    """``text`` (a name a student or a folder chose) as a CSV cell no spreadsheet runs as a
    formula. The one helper for every CSV a TA opens (``gradebook.csv``, ``similarity.csv``);
    only text cells go through it, never the numbers the grader writes."""
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text
