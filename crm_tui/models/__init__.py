"""SQLModel tables, and nothing else."""

from crm_tui.models.activities import (
    ACTIVITY_STATUSES,
    CATEGORIES,
    CHAINING,
    DELAY_FROM,
    DELAY_UNITS,
    Activity,
    ActivityType,
)
from crm_tui.models.contacts import (
    CONTACT_KINDS,
    CONTACT_STATUSES,
    Contact,
    ContactGroup,
    GroupMember,
    LostReason,
    NumberSequence,
)
from crm_tui.models.pipeline import (
    FOLLOWUP_UNITS,
    OPPORTUNITY_STATUSES,
    Opportunity,
    Pipeline,
    Stage,
)
from crm_tui.models.records import OUTBOX_STATUSES, Attachment, HistoryEntry, Meta, OutboxMail
from crm_tui.models.users import ROLES, Team, TeamMember, User

__all__ = [
    "ACTIVITY_STATUSES", "CATEGORIES", "CHAINING", "CONTACT_KINDS", "CONTACT_STATUSES",
    "DELAY_FROM", "DELAY_UNITS", "FOLLOWUP_UNITS", "OPPORTUNITY_STATUSES", "OUTBOX_STATUSES",
    "ROLES", "Activity", "ActivityType", "Attachment", "Contact", "ContactGroup", "GroupMember",
    "HistoryEntry", "LostReason", "Meta", "NumberSequence", "Opportunity", "OutboxMail",
    "Pipeline", "Stage", "Team", "TeamMember", "User",
]
