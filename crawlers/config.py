"""Site configuration: the YAML file an analyst writes to add a source, its schema and validation.

A bad file is rejected as a whole with every problem named by its field path and a reason in
Chinese (:class:`ConfigError`), so nothing half-configured is ever crawled. The format is
documented in ``docs/crawlers.md``.
"""
from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from parsel import Selector
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PACKAGE_DIR = Path(__file__).resolve().parent
SITES_DIR = PACKAGE_DIR / "sites"
KINDS = ("board", "news", "feed", "json")
#: Detail fields an item may carry; ``published``/``reply_time`` are times, ``likes`` a count.
FIELD_NAMES = ("id", "title", "body", "author", "published", "reply_body", "reply_time", "reply_department", "likes", "url")
TIME_FIELDS = ("published", "reply_time")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_XPATH_START = ("/", "(", "./", "xpath:")


class ConfigError(ValueError):
    """A site configuration that cannot be used; ``problems`` lists ``(field path, reason)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {path or '(整个文件)'}：{reason}" for path, reason in problems)
        super().__init__(f"站点配置 {source} 无效：\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """Where one value comes from: a CSS or XPath selector (or a JSON path), then an optional regex."""

    css: str | None = None
    xpath: str | None = None
    path: str | None = Field(None, description="Dotted path into a JSON entry (kind json).")
    source: Literal["page", "url"] = Field("page", description="`url`: apply `regex` to the page URL instead.")
    regex: str | None = None
    format: str | None = Field(None, description="strptime format for a time field.")
    join: str = "\n"
    default: str | None = None

    @field_validator("css")
    @classmethod
    def _css_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Selector(text="<html></html>").css(value)
            except Exception as exc:  # parsel raises several types for bad expressions
                raise ValueError(f"CSS 选择器无法解析：{exc}") from None
        return value

    @field_validator("xpath")
    @classmethod
    def _xpath_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Selector(text="<html></html>").xpath(value)
            except Exception as exc:
                raise ValueError(f"XPath 表达式无法解析：{exc}") from None
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"正则表达式无效：{exc}") from None
        return value

    @field_validator("format")
    @classmethod
    def _format_usable(cls, value: str | None) -> str | None:
        if value is not None:
            if "%" not in value:
                raise ValueError("时间格式应使用 strptime 写法，例如 %Y-%m-%d %H:%M")
            try:
                dt.datetime(2024, 5, 6, 7, 8, 9).strftime(value)
            except ValueError as exc:
                raise ValueError(f"时间格式无效：{exc}") from None
        return value

    @model_validator(mode="after")
    def _one_place(self) -> "FieldSpec":
        places = [p for p in (self.css, self.xpath, self.path) if p is not None]
        if len(places) > 1:
            raise ValueError("css、xpath、path 只能填写一个")
        if self.source == "url":
            if places:
                raise ValueError("source: url 时不能再填写选择器")
            if not self.regex:
                raise ValueError("source: url 需要 regex 从网址中取值")
        elif not places and self.default is None:
            raise ValueError("需要 css、xpath 或 path 之一（或 source: url 加 regex）")
        return self


def _field_from_shorthand(value: Any, json_kind: bool) -> Any:
    """``"h1::text"`` → css, ``"//h1"`` / ``"xpath:…"`` → xpath, and for kind json a dotted path."""
    if isinstance(value, str):
        if json_kind:
            return {"path": value}
        if value.startswith("xpath:"):
            return {"xpath": value[len("xpath:"):]}
        if value.startswith(_XPATH_START):
            return {"xpath": value}
        if value.startswith("css:"):
            return {"css": value[len("css:"):]}
        return {"css": value}
    return value


class ListSpec(_Strict):
    item: FieldSpec | None = Field(None, description="Each entry on a list page (news, board) or the JSON array path (json).")
    link: FieldSpec | None = Field(None, description="The detail link inside an entry.")
    fields: dict[str, FieldSpec] = Field(default_factory=dict, description="Values read from the list entry itself.")


class PaginationSpec(_Strict):
    next: FieldSpec | None = Field(None, description="Selector of the next-page link.")
    param: str | None = Field(None, description="Query parameter holding the page number.")
    start: int = 1
    step: int = 1
    max_pages: int = Field(5, ge=1, le=10000)

    @model_validator(mode="after")
    def _one_way(self) -> "PaginationSpec":
        if self.next is not None and self.param is not None:
            raise ValueError("next 与 param 只能选一种翻页方式")
        return self


class PolitenessSpec(_Strict):
    delay: float | None = Field(None, ge=0, le=600, description="Seconds between requests to one domain.")
    concurrency: int | None = Field(None, ge=1, le=32, description="Parallel requests per domain.")
    autothrottle: bool | None = None
    retries: int | None = Field(None, ge=0, le=10)
    timeout: float | None = Field(None, gt=0, le=600)


class SiteConfig(_Strict):
    name: str
    title: str | None = Field(None, description="Human name shown on the source health page.")
    kind: Literal["board", "news", "feed", "json"]
    enabled: bool = True
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(default_factory=list)
    encoding: str | None = None
    timezone: str = "Asia/Shanghai"
    schedule: str | None = Field(None, description="Cron expression (5 fields), in the site's time zone.")
    headers: dict[str, str] = Field(default_factory=dict)
    user_agent: str | None = None
    proxy: str | None = None
    politeness: PolitenessSpec = Field(default_factory=PolitenessSpec)
    listing: ListSpec = Field(default_factory=ListSpec, alias="list")
    pagination: PaginationSpec = Field(default_factory=PaginationSpec)
    detail: dict[str, FieldSpec] = Field(default_factory=dict)
    required: list[str] | None = None
    revisit_pages: int = Field(2, ge=0, le=100, description="Board list pages re-read every run for late replies.")
    revisit_days: int = Field(30, ge=0, le=3650, description="How long an unanswered message is re-checked.")
    #: The file it came from and its digest (filled by :func:`load_site`, not written by hand).
    path: str | None = None
    digest: str | None = None

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("只能使用小写字母、数字、下划线和连字符，以字母或数字开头，最长 64 个字符")
        return value

    @field_validator("start_urls")
    @classmethod
    def _urls_ok(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"不是有效的 http(s) 网址：{url}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"未知的字符编码：{value}（例如 gbk、gb18030、utf-8）") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _tz_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区：{value}") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _cron_ok(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            if len(value.split()) != 5:
                raise ValueError("cron 表达式需要 5 段：分 时 日 月 周，例如 \"*/30 * * * *\"")
            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"cron 表达式无效：{exc}") from None
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_ok(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("代理需写成 http://host:port 或 https://host:port")
        return value

    @field_validator("detail", "listing")
    @classmethod
    def _known_fields(cls, value: Any, info) -> Any:
        fields = value if info.field_name == "detail" else value.fields
        unknown = sorted(set(fields) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"未知的字段 {', '.join(unknown)}；可用字段：{', '.join(FIELD_NAMES)}")
        for name in TIME_FIELDS:
            spec = fields.get(name)
            if spec is not None and spec.source == "url":
                raise ValueError(f"{name} 不能从网址取值")
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> "SiteConfig":
        hosts = {urlsplit(u).hostname for u in self.start_urls}
        if self.allowed_domains:
            for host in hosts:
                if not any(host == d or host.endswith("." + d) for d in self.allowed_domains):
                    raise ValueError(f"start_urls 的域名 {host} 不在 allowed_domains 之内")
        if self.kind in ("board", "news"):
            if self.listing.link is None:
                raise ValueError(f"kind: {self.kind} 需要 list.link（列表中详情页链接的选择器）")
            missing = [f for f in ("title", "body") if f not in self.detail]
            if missing:
                raise ValueError(f"kind: {self.kind} 需要 detail.{'、detail.'.join(missing)}")
        if self.kind == "json":
            if self.listing.item is None or self.listing.item.path is None:
                raise ValueError("kind: json 需要 list.item（JSON 中条目数组的路径，例如 data.list）")
            if self.listing.link is None and not {"title", "body"} <= set(self.listing.fields):
                raise ValueError("kind: json 需要 list.fields 的 title 与 body，或 list.link 指向详情页")
        if self.listing.link is not None and self.listing.link.source == "url":
            raise ValueError("list.link 不能使用 source: url")
        for name in self.required or []:
            if name not in FIELD_NAMES:
                raise ValueError(f"required 中的 {name} 不是可用字段；可用字段：{', '.join(FIELD_NAMES)}")
        return self

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Fields whose absence makes a page a parse failure (reported with its URL)."""
        if self.required is not None:
            return tuple(self.required)
        if self.kind in ("board", "news"):
            return ("title", "body", "published")
        return ("title",)

    @property
    def expects_replies(self) -> bool:
        """Boards (and listings that carry a reply) get their recent unanswered entries re-read."""
        return self.kind == "board" or "reply_body" in self.detail or "reply_body" in self.listing.fields

    @property
    def display_title(self) -> str:
        return self.title or self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """Expand selector shorthands (plain strings) into field specs before validation."""
    data = dict(data)
    json_kind = data.get("kind") == "json"
    lst = data.get("list")
    if isinstance(lst, dict):
        lst = dict(lst)
        for key in ("item", "link"):
            if key in lst:
                lst[key] = _field_from_shorthand(lst[key], json_kind)
        if isinstance(lst.get("fields"), dict):
            lst["fields"] = {k: _field_from_shorthand(v, json_kind) for k, v in lst["fields"].items()}
        data["list"] = lst
    pag = data.get("pagination")
    if isinstance(pag, dict) and "next" in pag:
        data["pagination"] = {**pag, "next": _field_from_shorthand(pag["next"], json_kind)}
    if isinstance(data.get("detail"), dict):
        data["detail"] = {k: _field_from_shorthand(v, False) for k, v in data["detail"].items()}
    if isinstance(data.get("start_urls"), str):
        data["start_urls"] = [data["start_urls"]]
    return data


_MESSAGES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段（拼写错误？）",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "too_short": "不能为空",
}
_LIMITS = {"greater_than_equal": "不能小于", "less_than_equal": "不能大于", "greater_than": "必须大于", "less_than": "必须小于"}


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "value_error":
            reason = str(err.get("ctx", {}).get("error", err["msg"]))
        elif kind == "literal_error":
            expected = str(err.get("ctx", {}).get("expected", "")).replace(" or ", ", ").replace("'", "")
            reason = f"取值必须是 {expected.replace(', ', '、')} 之一"
        elif kind in _LIMITS:
            reason = f"{_LIMITS[kind]} {next(iter(err.get('ctx', {}).values()), '')}"
        else:
            reason = _MESSAGES.get(kind, err["msg"])
        out.append((path, reason))
    return out


def parse_site(text: str, source: str = "<配置>", default_name: str | None = None) -> SiteConfig:
    """Validate YAML text into a :class:`SiteConfig`, or raise :class:`ConfigError`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
        raise ConfigError(source, [("", f"YAML 语法错误 {where}：{getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "文件内容应是一个映射（name: …, kind: … 等键值）")])
    data = _prepare(data)
    if default_name and "name" not in data:
        data["name"] = default_name
    data["digest"] = hashlib.sha256(text.encode()).hexdigest()
    data["path"] = source
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate one configuration file; the site name defaults to the file name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "文件不存在")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [("", "配置文件须以 UTF-8 编码保存")]) from None
    stem = path.stem.lower().replace(".", "-")
    return parse_site(text, str(path.resolve()), default_name=stem)


def site_dirs() -> list[Path]:
    """Folders searched for ``*.yaml``: ``$MINSHENG_CRAWL_SITES`` (``os.pathsep``-separated), else the
    bundled ``crawlers/sites`` plus ``$MINSHENG_HOME/sites`` so deployments add sources without
    touching the package."""
    env = os.environ.get("MINSHENG_CRAWL_SITES")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    from core.settings import get_settings

    return [SITES_DIR, get_settings().resolved_home / "sites"]


def discover() -> list[Path]:
    """Every configuration file in :func:`site_dirs`, sorted by name."""
    files: list[Path] = []
    for folder in site_dirs():
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
    return files


def resolve(target: str) -> Path:
    """``NAME`` (a configuration in :func:`site_dirs`) or a path to a file."""
    path = Path(target).expanduser()
    if path.suffix in (".yaml", ".yml") or os.sep in target or path.is_file():
        if path.is_file():
            return path.resolve()
        bundled = PACKAGE_DIR / target
        if bundled.is_file():  # ``sites/NAME.yaml`` from the repository root
            return bundled.resolve()
        raise ConfigError(target, [("", "文件不存在")])
    for file in discover():
        if file.stem == target:
            return file.resolve()
    for file in discover():
        try:
            if load_site(file).name == target:
                return file.resolve()
        except ConfigError:
            continue
    known = ", ".join(sorted({f.stem for f in discover()})) or "（无）"
    raise ConfigError(target, [("", f"找不到名为 {target} 的站点配置；已知站点：{known}")])
