"""Entry point named by ``scrapy.cfg``: make the ``crawlers`` package importable from a checkout."""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from crawlers.settings import *  # noqa: E402,F401,F403
