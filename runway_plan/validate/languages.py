"""Language names for the language codes the catalog's enums hold (``targetLang: es``).

A spec that names a language (``targetLang: Spanish``, ``Español``, ``pt-BR``) gets the code as
its did-you-mean.  The English names are those of ISO 639-1 (ISO 639-2 for ``fil``), as the
ISO 639-2 Registration Authority (Library of Congress) lists them; each code also has its
language's own name.  A test keeps every language code of the catalog in this table.
"""

from __future__ import annotations

import unicodedata

__all__ = ["LANGUAGE_NAMES", "language_code"]

LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("Arabic", "العربية"),
    "bg": ("Bulgarian", "Български"),
    "cs": ("Czech", "Čeština"),
    "da": ("Danish", "Dansk"),
    "de": ("German", "Deutsch"),
    "el": ("Greek", "Modern Greek", "Ελληνικά"),
    "en": ("English",),
    "es": ("Spanish", "Castilian", "Español"),
    "fi": ("Finnish", "Suomi"),
    "fil": ("Filipino", "Pilipino"),
    "fr": ("French", "Français"),
    "hi": ("Hindi", "हिन्दी"),
    "hr": ("Croatian", "Hrvatski"),
    "id": ("Indonesian", "Bahasa Indonesia"),
    "it": ("Italian", "Italiano"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "ms": ("Malay", "Bahasa Melayu"),
    "nl": ("Dutch", "Flemish", "Nederlands"),
    "pl": ("Polish", "Polski"),
    "pt": ("Portuguese", "Português"),
    "ro": ("Romanian", "Moldavian", "Română"),
    "ru": ("Russian", "Русский"),
    "sk": ("Slovak", "Slovenčina"),
    "sv": ("Swedish", "Svenska"),
    "ta": ("Tamil", "தமிழ்"),
    "tr": ("Turkish", "Türkçe"),
    "uk": ("Ukrainian", "Українська"),
    "zh": ("Chinese", "Mandarin", "中文"),
}
"""Language code -> its names: English first, then others people write for it."""


def _folded(text: str) -> str:
    """``text`` compared loosely: case, accents and surrounding space ignored."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_CODES = {_folded(name): code for code, names in LANGUAGE_NAMES.items() for name in names}


def language_code(text: str) -> str | None:
    """The code of the language ``text`` names (``Spanish`` -> ``es``), or the primary subtag
    of a regional tag (``pt-BR`` -> ``pt``); None when it names no language of the table."""
    folded = _folded(text)
    code = _CODES.get(folded)
    if code is not None:
        return code
    primary, separator, _region = folded.replace("_", "-").partition("-")
    return primary if separator and primary in LANGUAGE_NAMES else None
