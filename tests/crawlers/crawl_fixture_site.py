"""A generated public site served on 127.0.0.1 for the crawler tests (and ``bench/crawl.py``).

It holds a 领导留言板-shaped message board (3 list pages, detail pages with official replies, one
detail that answers 500, one without its time, one link into a path robots.txt disallows, one
message whose reply appears only after :meth:`FixtureSite.advance`), a GB18030-encoded 政民互动-shaped
board paged by a query parameter, a news list, an RSS feed, a GBK-encoded news list and a JSON
listing API. Every request path is recorded, so tests can assert what was (never) fetched.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PLACES = ["东城街道", "西湖社区", "南山路", "北岸花园", "青石镇", "金桥小区", "滨江新村", "红星村", "梅林路", "沙河街",
          "翠竹园", "柳荫巷", "石门坎", "凤凰台", "杏花村", "望江楼", "桃源里", "松柏岭"]
ISSUES = [
    ("夜间施工噪音扰民", "工地每天夜里十一点以后还在打桩，噪音很大，老人孩子都无法休息，已经持续两个多星期。"),
    ("小区停车位被长期占用", "地面车位被外来车辆和僵尸车长期霸占，业主下班回家找不到位置，只能停到路边被贴罚单。"),
    ("自来水水质发黄", "最近一周家里自来水放出来是黄色的，还有铁锈味，烧开后壶底有一层沉淀，不敢给孩子喝。"),
    ("路灯损坏无人维修", "这条路十几盏路灯坏了一个多月，晚上漆黑一片，行人摔倒过好几次，电动车也容易出事故。"),
    ("学校门口交通拥堵", "每天上学放学时间校门口车辆乱停乱放，接送家长把路堵死，希望增派交警疏导并划定临时停车区。"),
    ("垃圾清运不及时", "垃圾桶满了好几天都没人来收，夏天气味难闻，苍蝇蚊子很多，周边居民意见很大。"),
    ("菜市场占道经营", "菜贩把摊位摆到了马路中间，早上车辆根本过不去，公交车也只能绕行，存在安全隐患。"),
    ("养老金发放咨询", "父亲退休后养老金一直没有到账，社保窗口让我们等通知，想问一下具体需要补交哪些材料。"),
    ("公园健身器材破损", "公园里的单杠和漫步机已经断裂，螺丝外露，小孩在上面玩很危险，希望尽快更换。"),
    ("物业费上涨不合理", "物业公司未经业主大会同意，擅自把物业费从每平米一块二涨到两块，服务却没有任何改善。"),
    ("排水管道堵塞返臭", "一楼下水道经常返水，卫生间臭味很重，物业说是市政管网的问题，互相推诿没人处理。"),
    ("农村道路年久失修", "村里通往镇上的水泥路坑坑洼洼，下雨天积水很深，拖拉机和校车经常陷在泥里。"),
    ("违章搭建影响采光", "楼下住户在院子里私自加盖了两层铁皮房，挡住了我们家的阳光，还占用了消防通道。"),
    ("公交线路调整建议", "新开的地铁站离小区还有两公里，建议把一零八路公交延伸到地铁口，方便居民换乘。"),
    ("医保报销流程繁琐", "异地住院回来报销要跑好几个窗口，材料反复提交，希望能够简化流程实现网上办理。"),
    ("河道垃圾漂浮", "小区旁边的河道里漂着塑料袋和泡沫箱，水面发黑发臭，附近居民晚上都不敢开窗。"),
]
REPLIES = [
    "经核查，您反映的问题属实，我局已责令相关单位限期整改，并将加强日常巡查。",
    "您好，已转交属地街道办理，工作人员将在五个工作日内与您电话联系。",
    "感谢您的来信。经现场查看，相关设施已安排维修，预计本月底前完成。",
]


@dataclass
class Message:
    id: int
    title: str
    body: str
    author: str
    time: str
    likes: int
    reply: str | None = None
    reply_dept: str | None = None
    reply_time: str | None = None
    broken: str | None = None  # "500" | "no_time"


def make_message(i: int, with_reply: bool) -> Message:
    place = PLACES[i % len(PLACES)]
    title, body = ISSUES[i % len(ISSUES)]
    msg = Message(
        id=i, title=f"{place}{title}", body=f"我是{place}的居民。{body}恳请有关部门尽快处理。（留言编号{i}）",
        author=f"网友A{1000 + i}", time=f"2024-05-{(i % 27) + 1:02d} 10:{i % 60:02d}:00", likes=i * 3,
    )
    if with_reply:
        add_reply(msg)
    return msg


def add_reply(msg: Message) -> None:
    msg.reply = f"{REPLIES[msg.id % len(REPLIES)]}（答复编号{msg.id}）"
    msg.reply_dept = ["市住房和城乡建设局", "区城市管理局", "市交通运输局"][msg.id % 3]
    msg.reply_time = f"2024-06-{(msg.id % 27) + 1:02d} 09:30:00"


@dataclass
class FixtureSite:
    per_page: int = 4
    board: list[Message] = field(default_factory=list)  # newest first
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # the request headers, in request order
    round: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.board:
            msgs = [make_message(i, with_reply=i not in (10, 12)) for i in range(1, 13)]
            msgs[3 - 1].broken = "500"
            msgs[6 - 1].broken = "no_time"
            self.board = list(reversed(msgs))

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def advance(self) -> None:
        """Round two: two new messages on top, and message 10 gets its official reply."""
        self.round = 2
        self.board.insert(0, make_message(13, with_reply=False))
        self.board.insert(0, make_message(14, with_reply=True))
        add_reply(next(m for m in self.board if m.id == 10))

    def fetched(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [p for p in self.requests if p.startswith(prefix)]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- routing --------------------------------------------------------------------------------
    def handle(self, raw_path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests.append(raw_path)
            self.headers.append(dict(headers or {}))
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        html = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /board/private/\n"
        if path == "/board/list.html" or re.fullmatch(r"/board/list_\d+\.html", path):
            page = 1 if path == "/board/list.html" else int(path.rsplit("_", 1)[1].split(".")[0])
            if page > max(1, self._pages()):
                return 404, html, b"<h1>404 Not Found</h1>"
            return 200, html, self.board_list(page).encode()
        if path.startswith("/board/msg/") and path.endswith(".html"):
            msg = self._message(path.rsplit("/", 1)[1][:-5])
            if msg is None:
                return 404, html, b"<h1>404</h1>"
            if msg.broken == "500":
                return 500, html, "<h1>服务器内部错误</h1>".encode()
            return 200, html, self.board_detail(msg).encode()
        if path.startswith("/board/private/"):
            return 200, html, "<h1>内部页面</h1>".encode()
        if path == "/zmhd/list":  # GB18030 bytes under a page that wrongly declares UTF-8
            return 200, "text/html", self.zmhd_list(int(query.get("page", "1"))).encode("gb18030")
        if path == "/zmhd/detail":
            msg = self._message(query.get("id", ""))
            return (200, "text/html", self.zmhd_detail(msg).encode("gb18030")) if msg else (404, html, b"")
        if path == "/news/index.html":
            return 200, html, self.news_list().encode()
        if path.startswith("/news/a/"):
            return 200, html, self.news_detail(int(path.rsplit("/", 1)[1].split(".")[0])).encode()
        if path == "/feed.xml":
            return 200, "application/rss+xml; charset=utf-8", self.feed().encode()
        if path == "/gbk/list.html":
            return 200, "text/html", self.gbk_list().encode("gbk")
        if path.startswith("/gbk/a/"):
            return 200, "text/html", self.gbk_detail(int(path.rsplit("/", 1)[1].split(".")[0])).encode("gbk")
        if path == "/api/messages":
            return 200, "application/json", json.dumps(self.api(int(query.get("page", "1"))), ensure_ascii=False).encode()
        return 404, html, b"<h1>404 Not Found</h1>"

    def _message(self, ident: str) -> Message | None:
        return next((m for m in self.board if str(m.id) == ident), None)

    def _page(self, page: int) -> list[Message]:
        return self.board[(page - 1) * self.per_page: page * self.per_page]

    def _pages(self) -> int:
        return (len(self.board) + self.per_page - 1) // self.per_page

    # --- 领导留言板 shape -----------------------------------------------------------------------
    def board_list(self, page: int) -> str:
        rows = "".join(
            f'<li class="msg-item"><a class="msg-title" href="/board/msg/{m.id}.html" title="{escape(m.title)}">'
            f'{escape(m.title)}</a><span class="msg-date">{m.time[:10]}</span>'
            f'<span class="msg-state">{"已回复" if m.reply else "办理中"}</span></li>'
            for m in self._page(page)
        )
        if page == 3:
            rows += '<li class="msg-item"><a class="msg-title" href="/board/private/notice.html">内部通知（仅限工作人员）</a></li>'
        nxt = f'<a class="next" href="/board/list_{page + 1}.html">下一页</a>' if page < self._pages() else ""
        return (f'<!doctype html><html><head><meta charset="utf-8"><title>领导留言板</title></head><body>'
                f'<div class="nav"><a href="/">首页</a></div><ul class="msg-list">{rows}</ul>'
                f'<div class="pager"><span>第{page}页</span>{nxt}</div><script>var x = "<li>";</script></body></html>')

    def board_detail(self, m: Message) -> str:
        time_html = "" if m.broken == "no_time" else f'<span class="msg-time">留言时间：{m.time}</span>'
        reply = ""
        if m.reply:
            reply = (f'<div class="msg-reply"><div class="reply-dept">答复单位：{escape(m.reply_dept)}</div>'
                     f'<div class="reply-time">答复时间：{m.reply_time}</div>'
                     f'<div class="reply-content"><p>{escape(m.reply)}</p></div></div>')
        else:
            reply = '<div class="msg-reply-none">暂未答复</div>'
        return (f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(m.title)}</title></head><body>'
                f'<div class="msg-detail"><h1 class="msg-title">{escape(m.title)}</h1>'
                f'<div class="msg-meta"><span class="msg-author">留言人：{m.author}</span>{time_html}'
                f'<span class="msg-likes">点赞({m.likes})</span></div>'
                f'<div class="msg-content"><p>{escape(m.body)}</p><style>.x{{}}</style></div>{reply}</div></body></html>')

    # --- 政民互动 shape (table rows, ?page=N, detail as a label/value table) ---------------------
    def zmhd_list(self, page: int) -> str:
        rows = "".join(
            f'<tr><td class="bh">{m.id}</td><td class="bt"><a href="detail?id={m.id}" target="_blank">{escape(m.title)}</a></td>'
            f'<td class="sj">{m.time[:10]}</td><td class="zt">{"已办结" if m.reply else "办理中"}</td></tr>'
            for m in self._page(page)
        )
        return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
                f'<table class="zmhd-list"><tr><th>编号</th><th>标题</th><th>时间</th><th>状态</th></tr>{rows}</table>'
                f'<div class="page">共{self._pages()}页</div></body></html>')

    def zmhd_detail(self, m: Message) -> str:
        reply_rows = ""
        if m.reply:
            reply_rows = (f'<tr><th>回复单位</th><td class="hfdw">{escape(m.reply_dept)}</td></tr>'
                          f'<tr><th>回复时间</th><td class="hfsj">{m.reply_time}</td></tr>'
                          f'<tr><th>回复内容</th><td class="hfnr">{escape(m.reply)}</td></tr>')
        time_row = "" if m.broken == "no_time" else f'<tr><th>来信时间</th><td class="lxsj">{m.time}</td></tr>'
        return (f'<html><body><table class="zmhd-detail"><tr><th>信件标题</th><td class="xjbt">{escape(m.title)}</td></tr>'
                f'<tr><th>来信人</th><td class="lxr">{m.author}</td></tr>{time_row}'
                f'<tr><th>信件内容</th><td class="xjnr">{escape(m.body)}</td></tr>{reply_rows}</table></body></html>')

    # --- news, feed, GBK, JSON ------------------------------------------------------------------
    NEWS = [
        (1, "市政府召开防汛工作部署会", "会议要求各区县压实防汛责任，汛期实行二十四小时值班，确保群众生命财产安全。", "2024-06-01"),
        (2, "老旧小区改造今年再启动一百个项目", "今年全市计划改造老旧小区一百个，涉及居民三万余户，重点解决加装电梯和管网更新。", "2024-06-03"),
        (3, "地铁三号线南延段开通试运营", "南延段全长十二公里，设站八座，开通后从南部新城到市中心缩短至二十五分钟。", "2024-06-05"),
    ]

    def news_list(self) -> str:
        rows = "".join(f'<div class="news"><a href="/news/a/{i}.html">{t}</a><em>{d}</em></div>' for i, t, _, d in self.NEWS)
        return f'<html><head><meta charset="utf-8"></head><body><div class="news-list">{rows}</div></body></html>'

    def news_detail(self, i: int) -> str:
        _, title, body, _ = self.NEWS[i - 1]
        return (f'<html><head><meta charset="utf-8"></head><body><h2 class="title">{title}</h2>'
                f'<div class="source">来源：市政府办公室</div><div id="article"><p>{body}</p><p>（完）</p></div></body></html>')

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(t)}</title><link>{self.base}/news/a/{i}.html?utm_source=rss</link>"
            f"<description>&lt;p&gt;{escape(b)}&lt;/p&gt;</description>"
            f"<pubDate>{['Sat, 01 Jun 2024 08:00:00 +0800', 'Mon, 03 Jun 2024 09:30:00 +0800', 'Wed, 05 Jun 2024 18:00:00 +0800'][i - 1]}</pubDate>"
            f"<guid>news-{i}</guid></item>"
            for i, t, b, _ in self.NEWS
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>市政府新闻</title>'
                f'<link>{self.base}/news/index.html</link>{items}</channel></rss>')

    GBK_NEWS = [(1, "县人民政府关于秋季森林防火的通告", "进入秋季森林防火期，严禁在林区野外用火，违者依法追究责任。", "2024年09月20日")]

    def gbk_list(self) -> str:
        rows = "".join(f'<li><a href="/gbk/a/{i}.html">{t}</a><span>{d}</span></li>' for i, t, _, d in self.GBK_NEWS)
        return f"<html><head><title>通知公告</title></head><body><ul class='tzgg'>{rows}</ul></body></html>"

    def gbk_detail(self, i: int) -> str:
        _, title, body, date = self.GBK_NEWS[i - 1]
        return (f"<html><head><title>{title}</title></head><body><div class='bt'>{title}</div>"
                f"<div class='fbsj'>发布日期：{date}</div><div class='zw'>{body}</div></body></html>")

    def api(self, page: int) -> dict:
        rows = [{"msgId": m.id, "subject": m.title, "content": m.body, "createTime": m.time,
                 "nickName": m.author, "answer": m.reply, "answerTime": m.reply_time, "answerOrg": m.reply_dept,
                 "praise": m.likes} for m in self._page(page)]
        return {"code": 0, "data": {"total": len(self.board), "list": rows}}


class _Handler(BaseHTTPRequestHandler):
    site: FixtureSite

    def do_GET(self) -> None:  # noqa: N802
        status, ctype, body = self.site.handle(self.path, dict(self.headers.items()))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class Server:
    """Serve a site (anything with ``handle(path) -> (status, content type, bytes)``) on 127.0.0.1."""

    def __init__(self, site) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        site.port = self.httpd.server_address[1]
        self.site = site
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.site

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
