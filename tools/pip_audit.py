"""``make audit``: pip-audit over the installed environment, with a reasoned ignore list.

Why a wrapper instead of calling pip-audit directly from the Makefile:

* pip-audit exits 0 with "No known vulnerabilities found" even when it could audit *nothing*
  (every package "not found on PyPI" behind a mirror); that must not read as a pass;
* an unreachable vulnerability service (no network, DNS failure) is not a finding: it prints a
  clear warning and lets ``make test`` go on, since CI machines reach PyPI and will audit;
* known findings are ignored only with a reason, one ``ID  # reason`` per line of
  ``.pip-audit-ignore``; a line without a reason is an error.

Exit status: 0 clean (or service unreachable, with a warning), 1 vulnerabilities found or bad input.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE_FILE = ROOT / ".pip-audit-ignore"
#: Signs in pip-audit's stderr that the vulnerability service, not the environment, failed.
NETWORK = re.compile(r"ConnectionError|ProxyError|NameResolutionError|Max retries exceeded|Timeout|"
                     r"timed out|Temporary failure in name resolution|Network is unreachable|SSLError", re.I)


@dataclass
class Report:
    audited: int = 0
    vulnerable: list[tuple[str, str, str, list[str]]] = field(default_factory=list)  # name, version, id, fixes
    skipped: list[tuple[str, str]] = field(default_factory=list)  # name, reason


def read_ignores(path: Path) -> dict[str, str]:
    """``{vulnerability id: reason}``; every entry must say why it is ignored."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for n, line in enumerate(path.read_text().splitlines(), 1):
        entry, _, reason = line.partition("#")
        entry = entry.strip()
        if not entry:
            continue
        if len(entry.split()) != 1 or not reason.strip():
            raise ValueError(f"{path.name}:{n}: expected 'ID  # reason', got {line!r}")
        ignores[entry] = reason.strip()
    return ignores


def parse(output: str) -> Report:
    """Read pip-audit's JSON (``-f json``): what was audited, found vulnerable and skipped."""
    report = Report()
    for dep in json.loads(output).get("dependencies", []):
        if "skip_reason" in dep:
            if "editable" not in dep["skip_reason"]:  # the project itself (--skip-editable)
                report.skipped.append((dep["name"], dep["skip_reason"]))
            continue
        report.audited += 1
        for vuln in dep.get("vulns", []):
            report.vulnerable.append((dep["name"], dep["version"], vuln["id"], vuln.get("fix_versions", [])))
    return report


def warn(message: str) -> None:
    bar = "!" * 78
    print(f"{bar}\nWARNING: pip-audit: {message}\n{bar}", file=sys.stderr)


def main() -> int:
    try:
        ignores = read_ignores(IGNORE_FILE)
    except ValueError as exc:
        print(f"pip-audit: {exc}", file=sys.stderr)
        return 1
    command = [str(Path(sys.executable).with_name("pip-audit")), "--skip-editable", "--progress-spinner", "off",
               "--format", "json", *sum((["--ignore-vuln", vid] for vid in ignores), [])]
    done = subprocess.run(command, capture_output=True, text=True)
    try:
        report = parse(done.stdout)
    except json.JSONDecodeError:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        if NETWORK.search(done.stderr):
            warn(f"the vulnerability service could not be reached, dependencies NOT audited: {tail[0][:300]}")
            return 0
        print(done.stderr, file=sys.stderr)
        print(f"pip-audit failed (exit {done.returncode})", file=sys.stderr)
        return 1
    for vid, reason in ignores.items():
        print(f"pip-audit: ignoring {vid}: {reason}")
    if report.vulnerable:
        print("pip-audit: known vulnerabilities (fix: raise the minimum in pyproject.toml, or add "
              "'ID  # reason' to .pip-audit-ignore):", file=sys.stderr)
        for name, version, vid, fixes in report.vulnerable:
            print(f"  {name} {version}: {vid} (fixed in {', '.join(fixes) or 'no release yet'})", file=sys.stderr)
        return 1
    if report.audited == 0:
        reasons = sorted({reason.split(":")[0] for _name, reason in report.skipped})
        warn(f"no dependency could be audited ({len(report.skipped)} skipped: {'; '.join(reasons)[:200]}); "
             "the vulnerability service is unreachable or this index is a mirror it does not know")
        return 0
    for name, reason in report.skipped:
        print(f"pip-audit: not audited: {name}: {reason}")
    print(f"pip-audit: {report.audited} dependencies audited, no known vulnerabilities "
          f"({len(report.skipped)} not audited, {len(ignores)} ignored with a reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
