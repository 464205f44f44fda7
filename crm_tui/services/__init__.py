"""Every business rule, as plain functions over a session. No Textual imports here."""
