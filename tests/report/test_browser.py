"""The report opened in headless Chromium: it renders, every figure loads, no console errors.

Skipped when Chromium is not installed (Debian: ``apt-get install chromium``).

Two independent checks, each validated on a deliberately broken page first:

1. A probe copy. A small inline script is put at the top of <head> of a *copy* of the report
   (its Content-Security-Policy gets ``script-src 'unsafe-inline'`` for that script only). It
   records window error events in the capture phase (which is how failed <img> loads surface),
   CSP violations and console.error calls, and on ``load`` writes, into a <pre id="probe">, the
   number of images, how many are ``complete`` with ``naturalWidth > 0`` (i.e. decoded), and the
   errors. ``--dump-dom`` with a virtual-time budget prints the DOM after load.
2. The unmodified report with ``--enable-logging=stderr --v=0``: Chromium writes every console
   message of the page (including CSP "Refused to load ..." violations) to stderr as
   ``INFO:CONSOLE...`` lines; there must be none.
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import multilevel
from multilevel.report import write_report

CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__errors.push(t && t.tagName ? "failed to load " + t.tagName : "script: " + e.message);
}, true);
document.addEventListener("securitypolicyviolation", function (e) {
  window.__errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
});
var ce = console.error;
console.error = function () {
  window.__errors.push("console: " + Array.prototype.join.call(arguments, " "));
  ce.apply(console, arguments);
};
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    widths: imgs.map(function (i) { return i.naturalWidth; }),
    errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def probe(tmp_path: Path, page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    text = text.replace(
        "style-src 'unsafe-inline'", "style-src 'unsafe-inline'; script-src 'unsafe-inline'", 1
    )
    text = text.replace("<head>", "<head>\n" + PROBE, 1)
    copy = page.with_name(page.stem + "-probe.html")
    copy.write_text(text, encoding="utf-8")
    run = chromium(tmp_path, copy, "--virtual-time-budget=15000", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert found, f"the probe did not run; stderr:\n{run.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def console_lines(tmp_path: Path, page: Path) -> tuple[list[str], str]:
    run = chromium(
        tmp_path,
        page,
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
        "--dump-dom",
    )
    return [ln for ln in run.stderr.splitlines() if ":CONSOLE" in ln], run.stdout


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    d = tmp_path_factory.mktemp("broken")
    page = d / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\"></head><body>"
        '<img src="data:image/png;base64,AAAA"><img src="https://example.invalid/x.png">'
        "</body></html>",
        encoding="utf-8",
    )
    return d, page


def test_the_checks_catch_a_broken_page(broken):
    d, page = broken
    result = probe(d, page)
    assert result["images"] == 2 and result["loaded"] == 0
    assert any("failed to load IMG" in e for e in result["errors"])
    assert any(e.startswith("csp: img-src") for e in result["errors"])
    lines, _ = console_lines(d, page)
    assert any("example.invalid" in ln for ln in lines)


def test_report_renders_without_errors_and_every_figure_loads(tmp_path):
    fit = multilevel.fit(
        "Reaction ~ Days + (Days | Subject)", multilevel.datasets.sleepstudy(), warn=False
    )
    page = write_report(fit, tmp_path / "report.html")
    n_img = page.read_text(encoding="utf-8").count("<img ")
    assert n_img == 5

    result = probe(tmp_path, page)
    assert result["errors"] == []
    assert result["images"] == n_img
    assert result["loaded"] == n_img
    assert min(result["widths"]) > 100

    lines, dom = console_lines(tmp_path, page)
    assert 'id="notes"' in dom and 'id="plots"' in dom  # the page did load and render
    assert lines == []

    shot = tmp_path / "shot.png"
    chromium(tmp_path, page, "--window-size=1100,1400", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
