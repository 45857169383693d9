"""Text clean-up and char n-grams shared by the build script and the runtime (they must agree)."""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 200  # only this prefix of a comment is analysed; danmaku are short
_RAW_CAP = 4 * MAX_CHARS  # slice before any clean-up so 100 kB input costs nothing

# zero-width and bidi marks, BOM, variation selectors, C0/C1 controls
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufe00-\ufe0f]"
)
_SPACES = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{3,}")  # 哈哈哈哈哈 / 6666666 / emoji floods -> three
_REPEAT2 = re.compile(r"(..)\1{2,}")  # 哈哈哈哈 as pairs, 上链接上链接上链接 is left alone


def clean(text: str) -> str:
    """NFKC, lower case, invisible chars dropped, floods shortened, capped at MAX_CHARS."""
    if not isinstance(text, str):
        text = str(text)
    text = text[:_RAW_CAP]
    # lone surrogates (from bad JSON or JS strings) become U+FFFD instead of raising later
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = unicodedata.normalize("NFKC", text).lower()
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    text = _REPEAT.sub(r"\1\1\1", text)
    text = _REPEAT2.sub(r"\1\1", text)
    return text[:MAX_CHARS]


def ngrams(text: str, n_max: int = 3) -> list[str]:
    """Char 1..n_max-grams of a cleaned text, with ^/$ marking the ends for n >= 2."""
    padded = f"^{text}$"
    grams = list(text)
    for n in range(2, n_max + 1):
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams
