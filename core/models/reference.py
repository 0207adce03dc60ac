"""Reference data: the 15 first-level topics and the departments that answer cases."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: 纪委监委-type departments see protected reporter identities through the supervisor role only.
    is_supervision: Mapped[bool] = mapped_column(Boolean, default=False)


class Topic(Base):
    __tablename__ = "topics"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # Open311 service_code
    name: Mapped[str] = mapped_column(String(32), unique=True)  # LABELS.md name, e.g. 城乡建设
    position: Mapped[int] = mapped_column(Integer, default=0)
    default_department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
