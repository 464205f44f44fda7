"""Folding for search: "lukasz" finds "Łukasz", "mueller" finds "Müller", "strasse" "Straße"."""

from hypothesis import given
from hypothesis import strategies as st

from crm_tui.services.folding import (
    fold,
    looks_like_phone,
    normalised_name,
    phone_forms,
    search_key,
)
from crm_tui.services.search import fts_query


def test_fold_strips_diacritics_and_special_letters():
    assert fold("Łukasz Wójcik") == "lukasz wojcik"
    assert fold("Müller Straße") == "muller strasse"
    assert fold("Łódź") == "lodz"


def test_search_key_holds_both_forms():
    key = search_key("Müller", "Jürgen", "Straße GmbH").split()
    assert {"muller", "mueller", "jurgen", "juergen", "strasse", "gmbh"} <= set(key)


def test_phone_forms_include_national_form():
    assert phone_forms("+49 (0)2761 123-45") == ["490276112345", "0276112345"]
    assert phone_forms("0171 555") == ["0171555"]
    assert phone_forms("") == []


def test_looks_like_phone():
    assert looks_like_phone("0171 555")
    assert looks_like_phone("+49 2761")
    assert not looks_like_phone("Müller")
    assert not looks_like_phone("12")


def test_normalised_name_ignores_legal_form_and_order():
    assert normalised_name("Müller GmbH") == normalised_name("muller")
    assert normalised_name("Nowak Sp. z o.o.") == "nowak"


@given(st.text())
def test_fts_query_never_contains_syntax_from_input(text):
    query = fts_query(text)
    if query is None:
        return
    # Every token is a quoted run of [0-9a-z]: no stray quotes, operators or parentheses.
    for part in query.split(" AND "):
        assert part.startswith('search_key : "') and part.endswith('"*')
        inner = part[len('search_key : "'):-2]
        assert inner.isalnum() and inner.isascii()


def test_fts_query_quotes_operators():
    assert fts_query('NEAR( "x" AND *') == 'search_key : "near"* AND search_key : "x"* AND search_key : "and"*'
    assert fts_query("***") is None
