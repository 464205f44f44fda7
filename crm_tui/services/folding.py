"""Folding text for search and duplicate checks: "Łukasz" ~ "lukasz", "Müller" ~ "mueller".

A contact's search key holds each word twice where folding differs: stripped of diacritics
("muller", "strasse") and with German umlauts expanded ("mueller"). A query is folded the
stripped way only, so "müller", "muller" and "mueller" all meet one of the key's forms.
"""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode does not decompose into base letter + mark.
_SPECIAL = str.maketrans({
    "ß": "ss", "ẞ": "ss", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ø": "o", "Ø": "o",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "ı": "i",
})
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "ae", "Ö": "oe", "Ü": "ue"})
_WORD = re.compile(r"[0-9a-z]+")
_NON_DIGIT = re.compile(r"\D+")


def strip_accents(text: str) -> str:
    text = text.translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def fold(text: str) -> str:
    """Lower-case ASCII words of `text`, diacritics removed ("Łódź Straße" -> "lodz strasse")."""
    return " ".join(_WORD.findall(strip_accents(text)))


def fold_words(text: str) -> list[str]:
    return _WORD.findall(strip_accents(text))


def expanded_words(text: str) -> list[str]:
    """Words with German umlauts written out ("Müller" -> "mueller")."""
    return _WORD.findall(strip_accents(text.translate(_UMLAUTS)))


def digits(text: str) -> str:
    return _NON_DIGIT.sub("", text or "")


def search_key(*parts: str | None, phones: tuple[str | None, ...] = ()) -> str:
    """The folded key stored with a contact and indexed for search."""
    seen: dict[str, None] = {}
    for part in parts:
        if not part:
            continue
        for word in fold_words(part):
            seen.setdefault(word, None)
        for word in expanded_words(part):
            seen.setdefault(word, None)
    for phone in phones:
        for number in phone_forms(phone or ""):
            seen.setdefault(number, None)
    return " ".join(seen)


def phone_forms(phone: str) -> list[str]:
    """The digits of a number, plus its national form for an international one.

    "+49 (0)2761 12345" is dialled as "02761 12345" at home: both are indexed, so either finds it.
    """
    number = digits(phone)
    if not number:
        return []
    forms = [number]
    stripped = phone.strip()
    international = stripped.startswith("+") or number.startswith("00")
    if international:
        rest = number[2:] if number.startswith("00") else number
        # Country codes in our markets are two digits (49, 48, 43, 41, 44, 33, ...).
        national = "0" + rest[2:].lstrip("0")
        if len(national) > 3:
            forms.append(national)
    return forms


def looks_like_phone(query: str) -> bool:
    """Mostly digits, spaces and phone punctuation, with at least three digits."""
    stripped = query.strip()
    return len(digits(stripped)) >= 3 and re.fullmatch(r"[\d\s+()./-]+", stripped) is not None


def normalised_name(text: str) -> str:
    """For duplicate checks: folded words, sorted, without legal-form noise."""
    noise = {"gmbh", "ag", "kg", "ohg", "ug", "sp", "z", "o", "oo", "sa", "ltd", "inc", "llc", "co", "e", "k"}
    words = [w for w in fold_words(text) if w not in noise]
    return " ".join(sorted(words))
