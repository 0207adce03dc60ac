"""tools/pip_audit.py (``make audit``): findings fail, an unreachable service warns, ignores need a reason."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import pip_audit  # noqa: E402


def _run_with(monkeypatch, tmp_path, stdout: str, stderr: str = "", rc: int = 0, ignores: str = "") -> list[str]:
    (tmp_path / "ignore").write_text(ignores)
    monkeypatch.setattr(pip_audit, "IGNORE_FILE", tmp_path / "ignore")
    seen: list[str] = []

    def fake(command, **_kw):
        seen.extend(command)
        return subprocess.CompletedProcess(command, rc, stdout, stderr)
    monkeypatch.setattr(pip_audit.subprocess, "run", fake)
    return seen


def _deps(*deps: dict) -> str:
    return json.dumps({"dependencies": [{"name": "minsheng", "version": "0.1.0",
                                         "skip_reason": "distribution marked as editable"}, *deps], "fixes": []})


def test_a_finding_fails(monkeypatch, tmp_path, capsys):
    _run_with(monkeypatch, tmp_path, _deps({"name": "jinja2", "version": "3.1.0", "vulns": [
        {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": [], "description": ""}]}), rc=1)
    assert pip_audit.main() == 1
    assert "jinja2 3.1.0: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in capsys.readouterr().err


def test_ignored_ids_reach_pip_audit_and_need_a_reason(monkeypatch, tmp_path, capsys):
    seen = _run_with(monkeypatch, tmp_path, _deps({"name": "jinja2", "version": "3.1.6", "vulns": []}),
                     ignores="# comment\nPYSEC-2099-1  # only affects the Windows installer\n")
    assert pip_audit.main() == 0
    assert seen[seen.index("--ignore-vuln") + 1] == "PYSEC-2099-1"
    assert "1 dependencies audited" in capsys.readouterr().out
    _run_with(monkeypatch, tmp_path, _deps(), ignores="PYSEC-2099-1\n")
    assert pip_audit.main() == 1


@pytest.mark.parametrize("stdout, stderr", [
    ("", "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded"),
    (_deps({"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited: jinja2 (3.1.6)"}), ""),
])
def test_nothing_audited_warns_loudly_but_does_not_fail(monkeypatch, tmp_path, capsys, stdout, stderr):
    _run_with(monkeypatch, tmp_path, stdout, stderr, rc=1 if stderr else 0)
    assert pip_audit.main() == 0
    err = capsys.readouterr().err
    assert "WARNING: pip-audit" in err and "No known vulnerabilities" not in err


def test_an_unexplained_crash_fails(monkeypatch, tmp_path):
    _run_with(monkeypatch, tmp_path, "", "Traceback ...\nKeyError: 'dependencies'", rc=2)
    assert pip_audit.main() == 1
