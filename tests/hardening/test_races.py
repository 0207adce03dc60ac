"""Races between concurrent filings that the load tests of bench/faults.py ran into."""
from __future__ import annotations

import threading
import time

from core.database import engine_for, session_scope


def test_the_first_two_filings_of_a_day_get_two_numbers(initialised, env):
    """Today's tracking counter does not exist yet: two filings creating it at once must both succeed
    (on PostgreSQL there was no row to lock, so the second INSERT failed with a unique violation: a 500)."""
    from intake.codes import new_tracking_number
    engine = engine_for(env.resolved_database_url)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with session_scope(engine) as session:
                numbers.append(new_tracking_number(session))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with session_scope(engine) as session:
        numbers.append(new_tracking_number(session))
        other = threading.Thread(target=second)
        other.start()
        time.sleep(1.0)  # the second filing is now waiting on the first one's uncommitted counter
    other.join(60)
    assert not errors, errors
    assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 2
    assert sorted(n[-5:] for n in numbers) == ["00001", "00002"]
