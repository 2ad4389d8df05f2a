"""Chromium against `streamlit run`: a pull streams into progress bars that reach 100 %, and
the manifest view works with pulls off."""

from __future__ import annotations

import pytest
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from registry_server import RegistryTestServer
from streamlit_process import streamlit_app

from quantviz.ui.context import widget_key

WIDGET = f".st-key-{widget_key('lab2-objective2', 'model-pull')}"
PULL_Q4 = f"{WIDGET}-pull-Q4"
BARS = '[data-testid="stProgress"] [role="progressbar"]'


@pytest.fixture(scope="module")
def pull_server():
    """Q4 not yet on the endpoint; each pull step takes a moment, so progress is visible."""
    with OllamaTestServer(installed=(Q6_TAG,), pull_step_delay=0.15) as server:
        yield server


@pytest.fixture(scope="module")
def pull_app(browser, pull_server):
    with streamlit_app(env={"OLLAMA_HOST": pull_server.url}) as url:
        yield url


def _values(page) -> list[int]:
    return [int(v) for v in page.locator(BARS).evaluate_all(
        "bars => bars.map(b => b.getAttribute('aria-valuenow'))"
    )]  # fmt: skip


def test_pull_progress_reaches_100_percent(page, pull_app, pull_server):
    """Clicking Pull shows per-layer bars filling part-way, then every bar at 100 %, success,
    and the tag listed as on the endpoint."""
    page.goto(f"{pull_app}/lab2-objective2")
    page.get_by_text(f"{Q4_TAG} · not on this endpoint").wait_for()
    page.locator(PULL_Q4).get_by_role("button", name="Pull").click()

    # Part-way: at least one bar strictly between 0 and 100 while the stream runs.
    page.wait_for_function(
        """sel => [...document.querySelectorAll(sel)].some(b => {
            const v = Number(b.getAttribute('aria-valuenow'));
            return v > 0 && v < 100;
        })""",
        arg=BARS,
    )
    page.get_by_text(f"Pulled Q4 {Q4_TAG}: 4 layers").wait_for()
    values = _values(page)
    assert len(values) == 5 and set(values) == {100}, values
    texts = page.locator('[data-testid="stProgress"]').all_inner_texts()
    weights = pull_server.catalog[Q4_TAG].layers[0][1]
    assert any(f"({weights:,} / {weights:,} bytes)" in t for t in texts), texts
    assert page.get_by_text("Status: success").is_visible()
    page.get_by_text(f"{Q4_TAG} · on the endpoint").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert len(pull_server.requests_to("/api/pull")) == 1


@pytest.fixture(scope="module")
def class_app(browser, pull_server, tmp_path_factory):
    """The classroom setup: pulls off, registry.ollama.ai's manifests read from the test
    registry (RegistryTestServer) through `[ollama] registries`."""
    with RegistryTestServer() as registry:
        secrets = tmp_path_factory.mktemp("class") / "secrets.toml"
        secrets.write_text(
            "[ollama]\n"
            f'host = "{pull_server.url}"\n'
            "allow_pull = false\n"
            "allow_private_endpoints = true\n"
            f'registries = {{ "registry.ollama.ai" = "{registry.url}" }}\n'
        )
        with streamlit_app(args=("--secrets.files", str(secrets))) as url:
            yield url, registry


def test_manifests_are_read_with_pulls_off_and_a_misspelt_tag_shows_the_lesson(
    page, class_app, pull_server
):
    """With `allow_pull = false`, a student reads both tags' manifests (layers by media-type
    name, the largest layer, what the second pull skips) and sees the 404 lesson for a
    misspelt tag of their own; no pull is sent."""
    url, registry = class_app
    pulls = len(pull_server.requests_to("/api/pull"))  # the module's server: earlier pulls
    page.goto(f"{url}/lab2-objective2")
    page.locator(f"{WIDGET}-read-manifests").get_by_role("button").click()
    weights = pull_server.catalog[Q4_TAG].layers[0][1]
    page.get_by_text(f"Largest layer: weights (GGUF), {weights / 1e9:.2f} GB").first.wait_for()
    page.get_by_text("Pulling Q6 after Q4 skips 3 blobs").wait_for()
    page.locator('[data-testid="stDataFrame"]').nth(1).wait_for()
    # The Q6 table's note cells: template, license and params came with Q4.
    page.get_by_text("skipped when pulled after Q4").nth(2).wait_for(state="attached")
    assert page.get_by_text("skipped when pulled after Q4").count() == 3
    field = page.locator(f"{WIDGET}-own-tag").get_by_role("textbox", name="Model tag")
    field.fill("batiai/gemma4-e2b:q3")
    field.press("Enter")
    read = page.locator(f"{WIDGET}-own-read").get_by_role("button")
    page.wait_for_function("b => !b.disabled", arg=read.element_handle())
    read.click()
    page.get_by_text("has no manifest for batiai/gemma4-e2b:q3 (HTTP 404)").wait_for()
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert any("pull model manifest: file does not exist" in a for a in alerts), alerts
    assert page.locator(f"{WIDGET}-own-pull").get_by_role("button").is_disabled()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert len(pull_server.requests_to("/api/pull")) == pulls
    assert [r.path for r in registry.requests][-1] == "/v2/batiai/gemma4-e2b/manifests/q3"
