"""Text from upstream shown as it is: names, messages, labels and log lines cannot reorder the
page or pass for other text, because bidirectional and control characters inside them are shown
as visible marks instead of acting."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Arabic letter mark, LRM/RLM, embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069).
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Control characters (tab and newline aside, which text may keep) and bidirectional controls.
# Captured, so that splitting on it keeps them (at the odd places).
SPECIAL = re.compile(f"([\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI}])")


def mark(character: str) -> Markup:
    """One special character as a visible mark: U+202E for a bidi control, ␀ for NUL."""
    code = ord(character)
    # C0 controls and DEL have pictures of their own (U+2400–U+2421); the others are spelled out.
    shown = chr(0x2400 + code) if code < 0x20 else "␡" if code == 0x7F else f"U+{code:04X}"
    what = "bidirectional control" if character in BIDI else "control character"
    title = f"{what} U+{code:04X}, shown instead of applied"
    return Markup('<span class="ctl" title="{}">{}</span>').format(title, shown)


def inert(text: str | None) -> Markup:
    """Upstream text for the page: escaped, its special characters shown as marks."""
    if not text:
        return Markup("")
    if SPECIAL.search(text) is None:  # nearly always: no cost beyond the escaping
        return escape(text)
    parts = SPECIAL.split(text)
    return Markup("").join(mark(part) if i % 2 else escape(part) for i, part in enumerate(parts))


def inert_text(text: str | None) -> str:
    """Upstream text for an attribute or a title, where no mark can be drawn: its special
    characters spelled out, as ⟨U+202E⟩."""
    if not text:
        return ""
    return SPECIAL.sub(lambda found: f"⟨U+{ord(found.group()):04X}⟩", text)


FILTERS = {"inert": inert, "inert_text": inert_text}
