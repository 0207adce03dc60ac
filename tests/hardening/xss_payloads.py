"""Script-injection payloads. Each one, if it ever ran, would set ``window.__xss`` (or raise a dialog,
or fetch /xss-beacon); each is short enough for a title field when trimmed."""
from __future__ import annotations

SET = "window.__xss=1"
PAYLOADS = [
    f"<script>{SET}</script>",
    f"<img src=x onerror=\"{SET}\">",
    f"\"><svg onload={SET}>",
    f"'><img src=x onerror={SET}>",
    f"</textarea><script>{SET}</script>",
    f"</title><script>{SET}</script>",
    f"<a href=\"javascript:{SET}\">点此</a>",
    f"<iframe srcdoc=\"<script>parent.{SET}</script>\"></iframe>",
    f"<details open ontoggle={SET}>",
    f"<input autofocus onfocus={SET}>",
    f"<body onload={SET}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={SET}>",
    f"<svg><script>{SET}</script></svg>",
    f"<object data=\"javascript:{SET}\"></object>",
    "<img src=\"/xss-beacon\">",
    "<link rel=stylesheet href=\"/xss-beacon\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=/xss-beacon\">",
    "<base href=\"http://evil.example/\">",
    f"{{{{ 7*7 }}}}{{% print(1) %}}<script>{SET}</script>",
    f"\\u003cscript\\u003e{SET}\\u003c/script\\u003e",
    f"javascript:{SET}",
    f"<div style=\"background:url(javascript:{SET})\">x</div>",
    f"<form action=\"javascript:{SET}\"><button>提交</button></form>",
    f"<scr<script>ipt>{SET}</scr</script>ipt>",
]
