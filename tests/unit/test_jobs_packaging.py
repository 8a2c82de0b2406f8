"""The holidays package ships in the scheduler function's layer only: the api function must never load it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ttai.jobs.reports import html_report

_LOADS = "import sys, importlib; importlib.import_module({module!r}); print('holidays' in sys.modules)"


@pytest.mark.parametrize(
    ("module", "loads_holidays"),
    [("functions.api.index", "False"), ("ttai.http.app", "False"), ("functions.scheduler.index", "True")],
)
def test_only_the_scheduler_function_imports_holidays(module: str, loads_holidays: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOADS.format(module=module)], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == loads_holidays


def test_report_html_escapes_every_value() -> None:
    html = html_report("<b>t</b>", "a & b", ("<th>",), [("<script>alert(1)</script>",), (None,)])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h2>&lt;b&gt;t&lt;/b&gt;</h2>" in html
    assert "<p>a &amp; b</p>" in html
    assert "<th>&lt;th&gt;</th>" in html
    assert "<td></td>" in html
