"""The analysts' query language, parsed into a small tree that every backend translates itself.

    物业 停车费            both words (each segmented by the same jieba as the index; all tokens ANDed)
    "物业 管理费"          a phrase (its tokens adjacent, in order)
    噪音 OR 扰民           either
    -广告                  not
    title:停车  place:丽发新城   field prefixes (title only / the document's places)
    (噪音 OR 扰民) 夜间     grouping

Nothing typed here reaches a backend's own query parser: words become term and phrase clauses
built through each backend's API, so Lucene syntax, wildcards, regular expressions and SQL in a
query are plain characters (mostly punctuation, which segmentation drops). A query that cannot be
parsed raises ``QuerySyntaxError`` with the 1-based character position.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from search.tokens import tokenize

MAX_QUERY_CHARS = 500
MAX_CLAUSES = 64
MAX_DEPTH = 8
FIELDS = {"title": "title", "标题": "title", "place": "place", "地点": "place"}
#: Function words dropped from queries (they match nearly everything and only slow a search).
STOP_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 我 我们 你 您 他 她 它 有 就 不 也 都 很 到 说 要 去 会 着 吗 呢 吧 啊 呀 哦 嗯 "
    "这 那 这个 那个 之 其 而 被 把 给 让 对 从 向 以 于 为 a an the of and or to in is".split()
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "「": '"', "」": '"', "『": '"', "』": '"'})


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; ``message`` is a Chinese sentence naming the position."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


# --- the tree every backend translates ------------------------------------------------------------

@dataclass(frozen=True)
class Match:
    """Tokens in a field: ``all`` (body and title), ``title`` or ``place``; a phrase keeps them adjacent."""

    field: str
    tokens: tuple[str, ...]
    phrase: bool = False


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    child: "Node"


@dataclass(frozen=True)
class MatchAll:
    pass


Node = Match | And | Or | Not | MatchAll


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    node: Node
    #: The query had words but all of them were stop-words or punctuation: answer "nothing found".
    empty: bool = False

    def highlight_terms(self) -> list[str]:
        """Tokens to mark in snippets: every positive match, longest first."""
        terms: set[str] = set()
        _collect(self.node, False, terms)
        return sorted(terms, key=lambda t: (-len(t), t))


def _collect(node: Node, negated: bool, out: set[str]) -> None:
    if isinstance(node, Match):
        if not negated:
            out.update(node.tokens)
    elif isinstance(node, (And, Or)):
        for child in node.children:
            _collect(child, negated, out)
    elif isinstance(node, Not):
        _collect(node.child, not negated, out)


# --- lexer ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tok:
    kind: str  # WORD PHRASE OR AND NOT LPAREN RPAREN
    text: str
    pos: int
    field: str | None = None
    negated: bool = False


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            toks.append(_Tok("LPAREN", ch, i))
            i += 1
            continue
        if ch == ")":
            toks.append(_Tok("RPAREN", ch, i))
            i += 1
            continue
        start = i
        negated = False
        if ch == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
        if negated and text[i] == "(":
            toks.append(_Tok("NOT", "NOT", start))
            continue
        field = None
        # A known field prefix: title:… place:…
        for name, canonical in FIELDS.items():
            if text.startswith(name + ":", i) or text.startswith(name + "：", i):
                field = canonical
                i += len(name) + 1
                break
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f"第 {i + 1} 个字符处的引号没有对应的结束引号。", i + 1)
            toks.append(_Tok("PHRASE", text[i + 1:end], start, field, negated))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in '()"':
            j += 1
        word = text[i:j]
        if field is not None and not word:
            raise QuerySyntaxError(f"第 {start + 1} 个字符处的字段前缀后面缺少检索词（例如 title:停车）。", start + 1)
        if not negated and field is None and word in ("OR", "AND", "NOT"):
            toks.append(_Tok(word, word, start))
        elif word or negated:
            toks.append(_Tok("WORD", word if word else "-", start, field, negated))
        i = j
    return toks


# --- parser -----------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, toks: list[_Tok], length: int):
        self.toks = toks
        self.i = 0
        self.length = length
        self.clauses = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node:
        node = self.or_expr(0)
        tok = self.peek()
        if tok is not None:  # only a stray ")" can stop the top level early
            raise QuerySyntaxError(f"第 {tok.pos + 1} 个字符处多了一个右括号。", tok.pos + 1)
        return node

    def or_expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(f"括号嵌套过深（最多 {MAX_DEPTH} 层）。")
        parts = [self.and_expr(depth)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("OR", "RPAREN"):
                raise QuerySyntaxError(f"第 {tok.pos + 1} 个字符处的 OR 后面缺少检索词。", tok.pos + 1)
            parts.append(self.and_expr(depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self, depth: int) -> Node:
        parts: list[Node] = []
        negate_next = False
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                self.i += 1
                continue
            if tok.kind == "NOT":
                self.i += 1
                negate_next = True
                continue
            node = self.unary(depth)
            parts.append(Not(node) if negate_next and not isinstance(node, Not) else node)
            negate_next = False
        if not parts:
            tok = self.peek()
            where = tok.pos + 1 if tok is not None else self.length
            what = "OR 前面" if tok is not None and tok.kind == "OR" else "此处"
            raise QuerySyntaxError(f"第 {where} 个字符处{what}缺少检索词。", where)
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, depth: int) -> Node:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "LPAREN":
            inner = self.or_expr(depth + 1)
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise QuerySyntaxError(f"第 {tok.pos + 1} 个字符处的左括号没有闭合。", tok.pos + 1)
            self.i += 1
            return inner
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QuerySyntaxError(f"检索词过多（最多 {MAX_CLAUSES} 个）。")
        field = tok.field or "all"
        node: Node = Match(field, tuple(_query_tokens(tok.text)), phrase=tok.kind == "PHRASE")
        return Not(node) if tok.negated else node


def _query_tokens(text: str) -> list[str]:
    tokens = tokenize(text)
    kept = [t for t in tokens if t not in STOP_WORDS]
    return kept


# --- simplification: drop clauses that lost all their tokens ----------------------------------------

def _simplify(node: Node) -> Node | None:
    if isinstance(node, Match):
        if not node.tokens:
            return None
        if node.phrase and len(node.tokens) == 1:
            return Match(node.field, node.tokens, False)
        return node
    if isinstance(node, Not):
        child = _simplify(node.child)
        return Not(child) if child is not None else None
    children = tuple(c for c in (_simplify(c) for c in node.children) if c is not None)
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    return type(node)(children)


def _only_negative(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, And):
        return all(isinstance(c, Not) for c in node.children)
    return False


def parse(text: str | None) -> ParsedQuery:
    """Parse an analyst query. Empty text matches everything (filters alone select)."""
    raw = text or ""
    if len(raw) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"查询过长：最多 {MAX_QUERY_CHARS} 个字符，当前 {len(raw)} 个。")
    normalised = unicodedata.normalize("NFKC", raw.translate(_QUOTES)).replace("\x00", "")
    if not normalised.strip():
        return ParsedQuery(raw, MatchAll())
    node = _Parser(_lex(normalised), len(normalised)).parse()
    simple = _simplify(node)
    if simple is None:
        return ParsedQuery(raw, MatchAll(), empty=True)
    if _only_negative(simple):
        negatives = simple.children if isinstance(simple, And) else (simple,)
        simple = And((MatchAll(), *negatives))
    return ParsedQuery(raw, simple)
