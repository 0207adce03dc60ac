"""ORM models every domain shares. Domain packages add their own tables in their own ``models.py``."""
from core.models.accounts import ROLES, User
from core.models.audit import AuditEntry
from core.models.cases import Attachment, Case, CaseEvent
from core.models.documents import Document
from core.models.notices import Notice
from core.models.outbox import OutboxItem
from core.models.reference import Department, Topic

__all__ = [
    "ROLES", "User", "AuditEntry", "Attachment", "Case", "CaseEvent",
    "Document", "Notice", "OutboxItem", "Department", "Topic",
]
