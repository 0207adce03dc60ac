"""``minsheng crawl NAME|PATH``: the same spider as ``cd crawlers && scrapy crawl site -a config=…``."""
from __future__ import annotations

from typing import Annotated

import typer


def crawl(
    targets: Annotated[list[str], typer.Argument(
        help="站点名（crawlers/sites 或 $MINSHENG_HOME/sites 中的 NAME.yaml）或配置文件路径，可写多个。")],
    full: Annotated[bool, typer.Option("--full", help="忽略已见网址，重新翻到 max_pages。")] = False,
    setting: Annotated[list[str] | None, typer.Option(
        "--set", "-s", help="覆盖 Scrapy 设置，例如 -s DOWNLOAD_DELAY=0（可多次）。")] = None,
    check: Annotated[bool, typer.Option("--check", help="只校验配置文件，不抓取。")] = False,
) -> None:
    """Crawl sites now into the configured database (a bad configuration is rejected field by field)."""
    from crawlers.config import ConfigError, load_site, resolve
    from crawlers.runner import parse_overrides, run_crawls

    try:
        if check:
            for target in targets:
                site = load_site(resolve(target))
                typer.echo(f"{site.name}：配置有效（{site.kind}，{len(site.start_urls)} 个起始网址，"
                           f"计划 {site.schedule or '无'}{'' if site.enabled else '，已停用'}）")
            return
        outcomes = run_crawls(targets, "cli", parse_overrides(setting or []), full)
    except (ConfigError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for target, outcome in zip(targets, outcomes):
        typer.echo(f"{target}：{outcome.summary()}")
    code = max(o.exit_code for o in outcomes)
    if code:
        raise typer.Exit(code)


commands = [crawl]
