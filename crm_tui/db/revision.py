"""The schema revision this code expects (kept equal to Alembic's head by a test).

A module of its own so that start-up and `crm status` can compare without loading Alembic.
"""

HEAD_REVISION = "0006_report_indexes"
