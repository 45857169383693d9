"""Text a buyer or a farmer types that ends up on labels, screens and in speech."""

from __future__ import annotations

import unicodedata

# Control (Cc), format (Cf: U+202E and other bidi overrides, zero-width marks), surrogates,
# private use and line/paragraph separators: none belongs in a name or an address.
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def hidden_chars(text: str) -> list[str]:
    """The invisible or control characters in `text`, as U+XXXX, in order of first use."""
    out: dict[str, None] = {}
    for ch in text:
        if unicodedata.category(ch) in HIDDEN:
            out[f"U+{ord(ch):04X}"] = None
    return list(out)


def refuse_hidden(text: str, what: str = "文字") -> str:
    """`text` unchanged, or ValueError naming the characters: a reversed address or a NUL in
    a name would print on a parcel label as something other than what the buyer saw."""
    found = hidden_chars(text)
    if found:
        raise ValueError(f"{what}不能包含控制字符或不可见字符（{'、'.join(found[:5])}）")
    return text
