"""Who acts on a case: a staff member (with role and department), the citizen, or the system."""
from __future__ import annotations

from dataclasses import dataclass

from core.models import User


@dataclass(frozen=True)
class Actor:
    kind: str  # user | citizen | system
    role: str  # admin | supervisor | dispatcher | analyst | department | citizen | system
    user_id: int | None = None
    department_code: str | None = None

    @property
    def audit_name(self) -> str:
        return f"user:{self.user_id}" if self.kind == "user" else self.kind

    @classmethod
    def from_user(cls, user: User) -> "Actor":
        return cls("user", user.role, user.id, user.department_code if user.role == "department" else None)


CITIZEN = Actor("citizen", "citizen")
SYSTEM = Actor("system", "system")
