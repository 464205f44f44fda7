"""Field rules shared by forms, the command line and imports. Each raises ValidationError."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from crm_tui.services.errors import ValidationError
from crm_tui.services.folding import digits

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s()./-]+$")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
TWO_PLACES = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")


def clean_text(value: object, field: str, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationError(field, "is required")
    if len(text) > max_length:
        raise ValidationError(field, f"is longer than {max_length} characters")
    if "\x00" in text or "\r" in text or ("\n" in text and max_length <= 300):
        raise ValidationError(field, "must be a single line of text")
    return text


def email(value: str | None, field: str = "email") -> str:
    text = (value or "").strip()
    if text and not _EMAIL.match(text):
        raise ValidationError(field, f"{text!r} is not an e-mail address")
    if len(text) > 254:
        raise ValidationError(field, "is longer than 254 characters")
    return text


def phone(value: str | None, field: str = "phone") -> str:
    text = (value or "").strip()
    if not text:
        return ""
    if not _PHONE.match(text) or not 3 <= len(digits(text)) <= 20:
        raise ValidationError(field, f"{text!r} is not a phone number (digits, spaces, + ( ) / - .)")
    return text


def postal_code(value: str | None, field: str = "postal_code") -> str:
    text = (value or "").strip()
    if text and not _POSTAL.match(text):
        raise ValidationError(field, f"{text!r} is not a postal code")
    return text


def currency(value: str | None, default: str = "EUR", field: str = "currency") -> str:
    text = (value or default).strip().upper()
    if not _CURRENCY.match(text):
        raise ValidationError(field, f"{value!r} is not a three-letter currency code")
    return text


def parse_money(value: object, field: str = "expected_revenue") -> Decimal | None:
    """Exact money from "1000", "1.000,50", "1,000.50", "1000.5 EUR" or a Decimal; 2 places."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace("€", "").replace("\u00a0", "").replace(" ", "")
        text = re.sub(r"(?<=\d)[A-Za-z]{3}$", "", text)
        if not text:
            return None
        if "," in text and "." in text:
            # The later separator is the decimal one: 1.000,50 or 1,000.50
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            head, _, tail = text.rpartition(",")
            text = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else text.replace(",", "")
        elif text.count(".") > 1 or re.search(r"\.\d{3}$", text):
            text = text.replace(".", "")  # German thousands: 1.000.000 or 1.500
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValidationError(field, f"{value!r} is not an amount of money") from None
    if not amount.is_finite():
        raise ValidationError(field, f"{value!r} is not an amount of money")
    if amount < 0:
        raise ValidationError(field, "must not be negative")
    if amount > MAX_MONEY:
        raise ValidationError(field, "is too large")
    if amount != amount.quantize(TWO_PLACES):
        raise ValidationError(field, "has more than two decimal places")
    return amount.quantize(TWO_PLACES)


def money_text(amount: Decimal | None) -> str:
    """Amounts in JSON and exports: a string with two decimals."""
    return f"{(amount or Decimal(0)).quantize(TWO_PLACES):.2f}"


def choice(value: str | None, options: tuple[str, ...], field: str) -> str:
    text = (value or "").strip().lower()
    if text not in options:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(options)}")
    return text


def whole_number(value: object, field: str, low: int | None = None, high: int | None = None) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(field, f"{value!r} is not a whole number") from None
    if low is not None and number < low:
        raise ValidationError(field, f"must be at least {low}")
    if high is not None and number > high:
        raise ValidationError(field, f"must be at most {high}")
    return number


def require_fields(values: dict[str, object], required: tuple[str, ...], status: str) -> None:
    """Required fields depend on status (configurable; seed 001's list for prospects)."""
    for name in required:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValidationError(name, f"is required for a {status}")
