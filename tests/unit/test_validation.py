"""Field validation: one ValidationError(field, message) for every kind of bad input."""

from decimal import Decimal

import pytest

from crm_tui.services import validation
from crm_tui.services.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1000", "1000.00"), ("1.000,50", "1000.50"), ("1,000.50", "1000.50"),
        ("1000.5 EUR", "1000.50"), ("12,5", "12.50"), ("1.000.000", "1000000.00"),
        ("850.000,00 €", "850000.00"), (Decimal("3.10"), "3.10"),
    ],
)
def test_parse_money(text, amount):
    assert validation.parse_money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["abc", "-5", "1.234,567", "NaN", "1e999999"])
def test_bad_money(text):
    with pytest.raises(ValidationError) as caught:
        validation.parse_money(text, "expected_revenue")
    assert caught.value.field == "expected_revenue"


def test_money_text_has_two_decimals():
    assert validation.money_text(Decimal("1000")) == "1000.00"
    assert validation.money_text(None) == "0.00"


@pytest.mark.parametrize("good", ["a@b.de", "max.mustermann@muster.com", ""])
def test_email_ok(good):
    assert validation.email(good) == good


@pytest.mark.parametrize("bad", ["a@b", "no at", "a@@b.de", "a b@c.de"])
def test_email_bad(bad):
    with pytest.raises(ValidationError, match="email"):
        validation.email(bad)


@pytest.mark.parametrize("good", ["+49 (0)2761 123-45", "0123456789", "030/1234567"])
def test_phone_ok(good):
    assert validation.phone(good) == good


@pytest.mark.parametrize("bad", ["12", "call me", "+49 abc"])
def test_phone_bad(bad):
    with pytest.raises(ValidationError) as caught:
        validation.phone(bad, "mobile")
    assert caught.value.field == "mobile"


def test_postal_code():
    assert validation.postal_code("57462") == "57462"
    assert validation.postal_code("90-001") == "90-001"
    assert validation.postal_code("M1 1AE") == "M1 1AE"
    with pytest.raises(ValidationError):
        validation.postal_code("!!")


def test_required_fields_per_status():
    with pytest.raises(ValidationError) as caught:
        validation.require_fields({"name": "X", "city": ""}, ("name", "city"), "prospect")
    assert caught.value.field == "city"
    assert "prospect" in caught.value.message
    validation.require_fields({"name": "X"}, ("name",), "customer")


def test_clean_text_refuses_overlong_and_multiline():
    with pytest.raises(ValidationError, match="longer than 5"):
        validation.clean_text("abcdefg", "city", 5)
    with pytest.raises(ValidationError, match="single line"):
        validation.clean_text("a\nb", "city", 100)
    with pytest.raises(ValidationError, match="required"):
        validation.clean_text("  ", "name", 100, required=True)
