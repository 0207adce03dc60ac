"""Which backend serves this process: Elasticsearch when ``MINSHENG_ES_URL`` is set, else embedded."""
from __future__ import annotations

import threading

from core.settings import Settings, get_settings
from search.backend import SearchBackend

_cache: dict[tuple, SearchBackend] = {}
_lock = threading.Lock()


def backend_key(settings: Settings) -> tuple:
    if settings.es_url:
        return ("elasticsearch", settings.es_url, settings.es_index)
    return ("embedded", str(settings.index_dir))


def get_backend(settings: Settings | None = None) -> SearchBackend:
    """One backend object per configuration per process (they are thread-safe)."""
    settings = settings or get_settings()
    key = backend_key(settings)
    with _lock:
        backend = _cache.get(key)
        if backend is None:
            if settings.es_url:
                from search.elastic import ElasticBackend

                backend = ElasticBackend.from_settings(settings)
            else:
                from search.embedded import TantivyBackend

                backend = TantivyBackend(settings.index_dir / "tantivy")
            _cache[key] = backend
        return backend


def forget_backends() -> None:
    """Close and drop cached backends (tests switch homes between cases)."""
    with _lock:
        for backend in _cache.values():
            backend.close()
        _cache.clear()
