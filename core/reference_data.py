"""Default reference data loaded by ``minsheng init``: the 15 topics and the usual departments.

Topic names are the first level of taxonomy.csv (and LABELS.md); codes are the Open311 service codes.
"""
from __future__ import annotations

#: (code, name, default department code) in taxonomy.csv order.
TOPICS: list[tuple[str, str, str]] = [
    ("urban", "城乡建设", "housing"),
    ("environment", "环境保护", "ecology"),
    ("transport", "交通运输", "transport"),
    ("education", "教育文体", "education"),
    ("labour", "劳动和社会保障", "hrss"),
    ("commerce", "商贸旅游", "market"),
    ("health", "卫生计生", "health"),
    ("agriculture", "农村农业", "agriculture"),
    ("law", "政法", "police"),
    ("civil", "民政", "civil_affairs"),
    ("government", "党务政务", "data_bureau"),
    ("economy", "经济管理", "development"),
    ("discipline", "纪检监察", "discipline"),
    ("land", "国土资源", "natural_resources"),
    ("technology", "科技与信息产业", "industry_it"),
]

#: (code, name, is_supervision)
DEPARTMENTS: list[tuple[str, str, bool]] = [
    ("housing", "住房和城乡建设局", False),
    ("ecology", "生态环境局", False),
    ("transport", "交通运输局", False),
    ("education", "教育局", False),
    ("hrss", "人力资源和社会保障局", False),
    ("commerce", "商务局", False),
    ("culture_tourism", "文化和旅游局", False),
    ("health", "卫生健康委员会", False),
    ("agriculture", "农业农村局", False),
    ("police", "公安局", False),
    ("civil_affairs", "民政局", False),
    ("natural_resources", "自然资源和规划局", False),
    ("market", "市场监督管理局", False),
    ("data_bureau", "政务服务数据管理局", False),
    ("discipline", "纪委监委", True),
    ("urban_management", "城市管理和综合执法局", False),
    ("development", "发展和改革委员会", False),
    ("industry_it", "工业和信息化局", False),
    ("emergency", "应急管理局", False),
    ("water", "水利局", False),
    ("housing_fund", "住房公积金管理中心", False),
    ("petition", "信访局", False),
]

TOPIC_NAMES = [name for _code, name, _dept in TOPICS]
TOPIC_CODE_BY_NAME = {name: code for code, name, _dept in TOPICS}
TOPIC_NAME_BY_CODE = {code: name for code, name, _dept in TOPICS}
