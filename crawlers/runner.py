"""Run one site's crawl in this process: what ``minsheng crawl`` and the scheduler's subprocess call.

``python -m crawlers.runner NAME|PATH [NAME|PATH ...] [--trigger schedule] [--full] [-s SETTING=VALUE ...]``

It starts the same spider as ``cd crawlers && scrapy crawl site -a config=…``, with the project
settings of ``crawlers.settings``, and prints the run's outcome. Exit status: 0 ok or partial,
1 failed, 2 bad configuration, 3 skipped because another run of the site is in progress.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from crawlers.config import ConfigError, load_site, resolve
from crawlers.models import FAILED, SKIPPED

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_SKIPPED = 0, 1, 2, 3


@dataclass
class Outcome:
    run_id: int | None
    status: str
    pages: int = 0
    items_new: int = 0
    items_updated: int = 0
    errors: int = 0
    message: str | None = None

    @property
    def exit_code(self) -> int:
        return {FAILED: EXIT_FAILED, SKIPPED: EXIT_SKIPPED}.get(self.status, EXIT_OK)

    def summary(self) -> str:
        text = {"ok": "完成", "partial": "完成（部分页面失败）", "failed": "失败", "skipped": "跳过"}.get(self.status, self.status)
        line = (f"运行 #{self.run_id}：{text}；页面 {self.pages}，新增 {self.items_new}，更新 {self.items_updated}，"
                f"错误 {self.errors}")
        return f"{line}\n{self.message}" if self.message else line


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"设置项应写成 NAME=VALUE：{pair}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out


def run_crawls(targets: list[str | Path], trigger: str = "manual", overrides: dict[str, str] | None = None,
               full: bool = False) -> list[Outcome]:
    """Crawl sites side by side to the end (blocking; starts the Twisted reactor, so once per process)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawlers import runs
    from crawlers.spiders.site import SiteSpider

    paths = [resolve(str(t)) for t in targets]
    for path in paths:
        load_site(path)  # fail fast, before the reactor starts, with the field-by-field message
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    process = CrawlerProcess(settings)
    crawlers = []
    for path in paths:
        crawler = process.create_crawler(SiteSpider)
        process.crawl(crawler, config=str(path), trigger=trigger, full="1" if full else "")
        crawlers.append(crawler)
    process.start()
    outcomes = []
    for crawler in crawlers:
        spider = crawler.spider
        run_id = spider.recorder.run_id if spider is not None else None
        run = runs.get_run(run_id) if run_id is not None else None
        if run is None:
            outcomes.append(Outcome(run_id, FAILED, message="抓取没有开始（请查看上面的日志）"))
        else:
            outcomes.append(Outcome(run.id, run.status, run.pages, run.items_new, run.items_updated, run.errors, run.message))
    return outcomes


def run_crawl(target: str | Path, trigger: str = "manual", overrides: dict[str, str] | None = None,
              full: bool = False) -> Outcome:
    """Crawl one site to the end."""
    return run_crawls([target], trigger, overrides, full)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.runner", description="抓取一个站点")
    parser.add_argument("targets", nargs="+", metavar="target", help="站点名（crawlers/sites 中的 NAME.yaml）或配置文件路径")
    parser.add_argument("--trigger", default="manual", choices=["manual", "schedule", "cli"])
    parser.add_argument("--full", action="store_true", help="忽略已见网址，重新抓取全部列表页（到 max_pages）")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="覆盖 Scrapy 设置，例如 -s DOWNLOAD_DELAY=0")
    args = parser.parse_args(argv)
    try:
        outcomes = run_crawls(args.targets, args.trigger, parse_overrides(args.settings), args.full)
    except (ConfigError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    for target, outcome in zip(args.targets, outcomes):
        print(f"{target}：{outcome.summary()}")
    return max(o.exit_code for o in outcomes)


if __name__ == "__main__":
    sys.exit(main())
