"""Label names exactly as ``LABELS.md`` writes them; the order is the classifier's output order."""
from __future__ import annotations

TOPICS: tuple[str, ...] = (
    "城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生",
    "农村农业", "政法", "民政", "党务政务", "经济管理", "纪检监察", "国土资源", "科技与信息产业",
)
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
APPEALS: tuple[str, ...] = ("投诉", "举报", "咨询", "建议", "求助", "表扬")
RISKS: tuple[str, ...] = ("group_action", "self_harm", "violence", "safety_hazard", "minor", "repeat")

#: The classifier's heads and their classes; ``risk`` is multi-label, the others single-label.
HEADS: dict[str, tuple[str, ...]] = {"topic": TOPICS, "sentiment": SENTIMENTS, "appeal": APPEALS, "risk": RISKS}
SINGLE_LABEL = ("topic", "sentiment", "appeal")
