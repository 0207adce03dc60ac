"""From a hot topic to action on cases, without importing the ``cases`` package.

``search`` and ``cases`` are siblings and never import each other. The trends side reads
cases through core tables only (``Case``, ``CaseEvent``) and keeps the topic's master case
(``HotTopic.master_case_id``). Changing a case's state (并单 into the master, assigning the
master) belongs to the cases state machine, so it goes through a ``CaseActions`` object that
the application layer registers at start-up (``api`` may import both packages)::

    from search.trends import actions
    actions.register(MyCaseActions())   # calls cases.state.apply(session, case, "merge", actor, master=…)

Without a registered implementation the console still links the master case and lists the
member cases; the merge and assign buttons then answer that the case module is not connected.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from core.models import Case, User


class CaseActionError(Exception):
    """A refused case action, with a Chinese message for the analyst."""


class CaseActions(Protocol):
    def merge(self, session: Session, case: Case, master: Case, user: User) -> None:
        """Merge ``case`` into ``master`` (并单) through the cases state machine."""

    def assign(self, session: Session, case: Case, department_code: str, user: User) -> None:
        """Assign the master case to a department through the cases state machine."""


_impl: CaseActions | None = None


def register(impl: CaseActions | None) -> None:
    global _impl
    _impl = impl


def current() -> CaseActions | None:
    return _impl
