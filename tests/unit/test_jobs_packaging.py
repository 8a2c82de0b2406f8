"""The holidays package ships in the scheduler's layer (and the consumer's, for manual runs): the api function must
never load it, and the scheduler loads it only when a scheduled market job asks the calendar."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ttai.jobs.reports import html_report

_LOADS = "import sys, importlib; importlib.import_module({module!r}); print('holidays' in sys.modules)"


@pytest.mark.parametrize(
    ("module", "loads_holidays"),
    [("functions.api.index", "False"), ("ttai.http.app", "False"), ("functions.scheduler.index", "False")],
)
def test_no_function_imports_holidays_at_its_cold_start(module: str, loads_holidays: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOADS.format(module=module)], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == loads_holidays


def test_the_calendar_loads_holidays_when_first_asked() -> None:
    probe = (
        "import sys, datetime; from ttai.jobs.calendar import closed_reason; before = 'holidays' in sys.modules; "
        "reason = closed_reason(datetime.date(2026, 7, 3)); print(before, 'holidays' in sys.modules, bool(reason))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["False", "True", "True"]


def test_report_html_escapes_every_value() -> None:
    html = html_report("<b>t</b>", "a & b", ("<th>",), [("<script>alert(1)</script>",), (None,)])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h2>&lt;b&gt;t&lt;/b&gt;</h2>" in html
    assert "<p>a &amp; b</p>" in html
    assert "<th>&lt;th&gt;</th>" in html
    assert "<td></td>" in html
