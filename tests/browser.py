"""Headless Chromium for the tests: run it offline, and probe what a page loaded.

Debian's ``chromium`` (``.ci/run`` installs it when it can); tests that need it
skip where :data:`CHROMIUM` is None.  :func:`probe` appends a small script to a
copy of a page that writes into the DOM what the browser saw, which
``--dump-dom`` prints: the number of images and of those that did not decode,
the resources fetched from elsewhere than the page's own origin (``data:``
and ``file:`` URLs are its own), and the value of the report's headline
accuracy.  :func:`serve` serves a folder on 127.0.0.1 for pages that need a
server (a docs site's search runs in a web worker, which ``file:`` forbids).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const external = performance.getEntriesByType("resource").map((entry) => entry.name)
    .filter((name) => !/^(data|file):/.test(name) && !name.startsWith(location.origin + "/"));
  const headline = document.querySelector("#headline-accuracy [data-value]");
  document.body.setAttribute("data-probe", JSON.stringify({
    images: images.length,
    broken: images.filter((image) => !(image.complete && image.naturalWidth > 0)).length,
    external: external,
    accuracy: headline ? Number(headline.dataset.value) : null,
  }));
});
</script>"""


def chromium(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile in ``tmp_path``, no network, logging on."""
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no network but loopback
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def probe(
    page: str, tmp_path: Path, directory: Path | None = None, base_url: str | None = None
) -> tuple[dict, subprocess.CompletedProcess]:
    """What the browser saw of the HTML ``page`` (see PROBE), and Chromium's own output.

    The probed copy is written into ``directory`` (default ``tmp_path``), so that a
    page with relative links (a docs site's) loads them from where they are, and
    opened from ``base_url`` (a :func:`serve` address of ``directory``) when given.
    """
    probed = (directory or tmp_path) / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    url = f"{base_url}/probed.html" if base_url else probed.as_uri()
    result = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", url)
    match = re.search(r"data-probe=\"([^\"]*)\"", result.stdout)
    assert match, result.stderr[-2000:]
    return json.loads(match.group(1).replace("&quot;", '"')), result


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) while inside; yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        """No request log on the test output."""
