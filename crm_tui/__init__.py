"""crm-tui: a keyboard-first CRM for sales reps who live in a terminal."""

__version__ = "0.1.0"
