"""Review-queue thresholds come from the settings, so a site chooses its queue's length; bad values are refused."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from core.settings import Settings, reset_settings
from nlp.pipeline import _review_reasons, review_thresholds
from nlp.service import review_reasons


@pytest.fixture
def settings_env(monkeypatch):
    reset_settings()
    yield monkeypatch
    reset_settings()


def _scores(topic: float, sentiment: float, appeal: float) -> SimpleNamespace:
    return SimpleNamespace(topic="城乡建设", topic_score=topic, sentiment_score=sentiment, appeal_score=appeal)


def test_defaults_queue_a_doubtful_topic(settings_env):
    assert review_thresholds() == {"topic": 0.5, "sentiment": 0.6, "appeal": 0.45}
    assert _review_reasons(_scores(0.4, 0.9, 0.9)) == ["low_topic"]
    assert _review_reasons(_scores(0.5, 0.9, 0.9)) == []
    assert review_reasons(_scores(0.4, 0.5, 0.4)) == ["low_topic", "low_sentiment", "low_appeal"]


def test_a_site_shortens_the_queue_through_the_environment(settings_env):
    settings_env.setenv("MINSHENG_REVIEW_TOPIC_BELOW", "0.35")
    settings_env.setenv("MINSHENG_REVIEW_APPEAL_BELOW", "0")
    reset_settings()
    assert review_thresholds()["topic"] == 0.35
    # the pipeline (new documents) and the review queue's listing (stored documents) read the same thresholds
    assert _review_reasons(_scores(0.4, 0.9, 0.1)) == [] == review_reasons(_scores(0.4, 0.9, 0.1))
    assert _review_reasons(_scores(0.3, 0.9, 0.1)) == ["low_topic"]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "很多"])
def test_a_threshold_outside_0_to_1_is_refused_by_name(settings_env, value):
    settings_env.setenv("MINSHENG_REVIEW_TOPIC_BELOW", value)
    with pytest.raises(ValidationError, match="review_topic_below"):
        Settings()
