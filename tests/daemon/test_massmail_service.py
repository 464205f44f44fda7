"""Mass e-mail services as the contacts screen calls them: a selection of ids or a filter."""

from __future__ import annotations

import pytest

from crm_tui.services.errors import ValidationError
from crm_tui.services.massmail import parse_template, queue_mass_mail, render_preview


def test_preview_and_queue_a_selection_of_ids(world, frozen_now):
    frozen_now("2026-11-24T08:00:00+00:00")
    first = world.contact()
    second = world.contact(name="Schmidt", first_name="Eva", company="", email="eva@schmidt.test")
    without = world.contact(name="Ohne", email="")
    template = "Hallo {full_name} ({company}),\nIhre Kundennummer: {customer_number}\n"
    with world.db.read() as session:
        preview = render_preview(session, world["anna"], [second, first, without], "Hallo {name}", template)
    assert (preview.count, preview.without_email, preview.already_queued) == (2, 1, 0)
    assert preview.recipients == ["jm@mueller-bau.test", "eva@schmidt.test"]
    assert preview.sample.subject == "Hallo Müller"
    assert preview.sample.body == "Hallo Jürgen Müller (Müller Bau GmbH),\nIhre Kundennummer: \n"
    with world.db.write() as session:
        assert queue_mass_mail(session, world["anna"], [first, second, without], "Hallo {name}", template) == 2
    with world.db.write() as session:  # the same campaign again: nothing twice
        assert queue_mass_mail(session, world["anna"], [first, second], "Hallo {name}", template) == 0
    with world.db.read() as session:
        again = render_preview(session, world["anna"], "city:Olpe -name:x", "Hallo {name}", template)
    assert again.count == 0


def test_a_filter_query_selects_like_the_contact_list(world):
    world.contact(city="Olpe")
    world.contact(name="Zu", city="Olpe", status="archived")  # hidden unless asked for
    world.contact(name="Weg", city="Siegen")
    with world.db.read() as session:
        olpe = render_preview(session, world["anna"], "city:Olpe", "S", "T\n")
        archived = render_preview(session, world["anna"], "city:Olpe status:archived", "S", "T\n")
    assert (olpe.count, archived.count) == (1, 1)


def test_templates_are_checked():
    assert parse_template("Subject: Hallo {first_name}\n\nText {{wörtlich}}\n").body == "Text {{wörtlich}}\n"
    assert parse_template("Subject: von der Datei\nText\n", "von der Option").subject == "von der Option"
    with pytest.raises(ValidationError) as bad:
        parse_template("Subject: x\n")
    assert bad.value.field == "template"


def test_an_empty_selection_is_refused(world):
    with world.db.read() as session, pytest.raises(ValidationError) as bad:
        render_preview(session, world["anna"], [], "S", "T\n")
    assert bad.value.field == "contacts"
