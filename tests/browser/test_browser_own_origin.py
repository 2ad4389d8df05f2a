"""Every page the browser shows loads from the app's own origin and nowhere else.

A class may sit behind a firewall with no internet, and a request to a third party tells it who
visits the app: the browser must fetch nothing but the app's own URLs (and data: URLs, which
are not fetched from anywhere).
"""

from __future__ import annotations

from urllib.parse import urlsplit

NAV_LINKS = '[data-testid="stSidebarNav"] a'


def _outside(url: str, app: str) -> bool:
    """True when the browser reached past the app: another host, port or scheme family."""
    target, own = urlsplit(url), urlsplit(app)
    if target.scheme in ("data", "blob"):
        return False
    same_family = {target.scheme, own.scheme} <= {"http", "ws"} or {
        target.scheme,
        own.scheme,
    } <= {"https", "wss"}
    return not (same_family and target.netloc == own.netloc)


def test_every_page_requests_only_the_apps_own_origin(page, served_app):
    """Home, every lab section and every tool page, each opened by URL: every request and
    websocket the browser opens goes to the app's own origin."""
    app_url = served_app
    seen: list[tuple[str, str]] = []  # (page url path, requested url)
    current = {"path": ""}
    page.context.on("request", lambda r: seen.append((current["path"], r.url)))
    page.on("websocket", lambda ws: seen.append((current["path"], ws.url)))

    page.goto(app_url)
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    hrefs = page.locator(NAV_LINKS).evaluate_all("links => links.map(a => a.href)")
    paths = sorted({urlsplit(h).path.strip("/") for h in hrefs})
    # The sidebar lists every page; these are the ones a person of the class is sure to open.
    assert {"settings", "evidence", "lab2", "lab2-objective1", "lab2-objective6"} <= set(paths)

    for path in paths:
        current["path"] = path
        page.goto(f"{app_url}/{path}")
        page.locator('[data-testid="stMain"] h1, [data-testid="stMain"] h2').first.wait_for()
        page.wait_for_load_state("networkidle")

    outside = [(path, url) for path, url in seen if _outside(url, app_url)]
    assert outside == []
    assert len({path for path, _ in seen}) == len(paths)  # every page was really loaded
