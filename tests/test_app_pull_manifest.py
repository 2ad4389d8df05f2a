"""AppTest of the pull widget's manifest view against the registry test server (real HTTP).

The class setup is the one the README recommends for a classroom: `allow_pull = false`, the
registry reached through `[ollama] registries` (here the test server stands in for
registry.ollama.ai). Expected figures come from the test servers' catalog (sizes the Ollama
test server reports for each tag), never from quantviz.
"""

from __future__ import annotations

import pytest
from apptest_utils import open_page, texts
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from registry_server import RegistryTestServer

from quantviz.ui import session
from quantviz.ui.context import widget_key
from quantviz.ui.ollama_common import MANIFEST_CACHE_KEY

PULL = widget_key("lab2-objective2", "model-pull")


@pytest.fixture
def registry():
    with RegistryTestServer() as server:
        yield server


def _open(
    ollama_server: OllamaTestServer,
    registry: RegistryTestServer,
    allow_pull: bool = False,
    limits: dict[str, int] | None = None,
):
    secrets: dict[str, dict] = {
        "ollama": {
            "host": ollama_server.url,
            "allow_pull": allow_pull,
            "allow_private_endpoints": True,
            "registries": {"registry.ollama.ai": registry.url},
        }
    }
    if limits:
        secrets["limits"] = limits
    return open_page("lab2-objective2", secrets=secrets)


def _errors(at) -> str:
    return "\n".join(e.value for e in at.error).replace("\\", "")


def _tables(at) -> list:
    return [df.value for df in at.dataframe]


def _manifest_reads(registry: RegistryTestServer) -> list[str]:
    return [r.path for r in registry.requests if "/manifests/" in r.path]


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def test_manifests_show_layers_largest_and_what_the_second_pull_skips(ollama_server, registry):
    """With pulls off, "Read the manifests" shows each tag's layers by media-type name with
    sizes and digests, the largest layer, and that pulling Q6 after Q4 skips the shared
    template, license and params blobs; the manifests go to the evidence."""
    at = _open(ollama_server, registry)
    assert not at.exception
    assert not registry.requests  # nothing is read before the click
    at.button(key=f"{PULL}-read-manifests").click().run()
    assert not at.exception and not at.error
    q4, q6 = ollama_server.catalog[Q4_TAG], ollama_server.catalog[Q6_TAG]
    page = texts(at)
    q4_weights_digest, q4_weights = q4.layers[0]
    assert f"**Q4** `{Q4_TAG}`: 4 layers and a config blob" in page
    assert f"Largest layer: weights \\(GGUF\\), {_gb(q4_weights)} ({q4_weights:,} bytes)" in page
    assert f"`{q4_weights_digest[7:19]}`" in page
    tables = _tables(at)
    assert len(tables) == 2
    q4_table, q6_table = tables
    assert list(q4_table["layer"]) == [
        "weights (GGUF)",
        "prompt template",
        "license",
        "default parameters",
        "model config (JSON)",
    ]
    assert q4_table["bytes"].iloc[1] == "358" and q4_table["bytes"].iloc[2] == "8,432"
    assert q4_table["digest (first 12)"].iloc[0] == q4_weights_digest[7:19]
    assert q4_table["note"].iloc[0] == "largest layer"
    skipped = [n for n in q6_table["note"] if n.startswith("skipped when pulled after Q4")]
    assert len(skipped) == 3  # template, license, params: same digests in both tags
    assert "Pulling Q6 after Q4 skips 3 blobs" in page
    record = at.session_state[session.EVIDENCE].filter("pull")[-1]
    assert record.payload["source"] == "registry"
    assert [t["tag"] for t in record.payload["tags"]] == [Q4_TAG, Q6_TAG]
    assert record.payload["second_pull"]["skipped_bytes"] == 358 + 8_432 + 56
    assert record.payload["second_pull"]["downloaded_bytes"] > q6.layers[0][1]
    assert _manifest_reads(registry) == [
        "/v2/batiai/gemma4-e2b/manifests/q4",
        "/v2/batiai/gemma4-e2b/manifests/q6",
    ]
    at.run()  # kept for the session: a rerun sends nothing
    assert len(registry.requests) == 2
    assert not ollama_server.requests_to("/api/pull")


def test_a_misspelt_own_tag_shows_the_file_does_not_exist_lesson_with_pulls_off(
    ollama_server, registry
):
    """A student's misspelt tag reads as the 404 that `ollama pull` fails with, while the
    field says pulling is off and why; its Pull button is disabled."""
    at = _open(ollama_server, registry)
    assert at.button(key=f"{PULL}-own-pull").disabled
    at.text_input(key=f"{PULL}-own-tag").input("batiai/gemma4-e2b:q3").run()
    assert "`allow_pull = false`" in texts(at)
    assert "Reading a manifest still works" in texts(at)
    assert at.button(key=f"{PULL}-own-pull").disabled
    at.button(key=f"{PULL}-own-read").click().run()
    assert not at.exception
    errors = _errors(at)
    assert "has no manifest for batiai/gemma4-e2b:q3 (HTTP 404)" in errors
    assert "pull model manifest: file does not exist" in errors
    assert not ollama_server.requests_to("/api/pull")


def test_an_own_tag_that_exists_shows_its_manifest(ollama_server, registry):
    """A correctly spelt tag of the student's own shows its layers table."""
    at = _open(ollama_server, registry)
    at.text_input(key=f"{PULL}-own-tag").input(Q6_TAG).run()
    at.button(key=f"{PULL}-own-read").click().run()
    assert not at.exception and not at.error
    assert f"**Your tag** `{Q6_TAG}`: 4 layers" in texts(at)
    assert _tables(at)[0]["layer"].iloc[0] == "weights (GGUF)"


def test_a_registry_asking_for_sign_in_is_explained(ollama_server, registry):
    """A 401 from the registry says it asks for sign-in and that the app reads only public
    manifests; the page stays usable."""
    registry.require_token()
    at = _open(ollama_server, registry)
    at.button(key=f"{PULL}-read-manifests").click().run()
    assert not at.exception
    errors = _errors(at)
    assert errors.count("asks for sign-in") == 2
    assert "reads only public manifests" in errors
    assert not _tables(at)


def test_a_cut_connection_says_the_answer_is_incomplete_and_read_again_works(
    ollama_server, registry
):
    """A connection dropped mid-manifest is reported as incomplete with a hint to read again;
    after the fault clears, "Read again" shows the manifests."""
    registry.cut_manifests_after(40)
    at = _open(ollama_server, registry)
    at.button(key=f"{PULL}-read-manifests").click().run()
    assert not at.exception
    errors = _errors(at)
    assert "dropped while it sent the manifest" in errors
    assert "a manifest is small and comes whole or not at all" in errors
    registry.cut_manifests_after(None)
    at.button(key=f"{PULL}-manifests-again").click().run()
    assert not at.error
    assert len(_tables(at)) == 2


def test_a_pull_after_reading_the_manifest_names_its_layers(ollama_server, registry):
    """With pulls on and the manifest read, the pull's bars name each layer by media type and
    the overall bar's text prints the same percent as its value."""
    ollama_server.remove_model(Q4_TAG)
    at = _open(ollama_server, registry, allow_pull=True)
    at.button(key=f"{PULL}-read-manifests").click().run()
    at.button(key=f"{PULL}-pull-Q4").click().run()
    assert not at.exception
    bars = [(e.proto.value, e.proto.text) for e in at.get("progress")]
    assert bars[0][0] == 100 and bars[0][1].endswith("· 100 %")
    assert bars[1][1].startswith("weights \\(GGUF\\) `")
    assert bars[2][1].startswith("prompt template `")


def test_a_tag_on_another_registry_is_refused_without_a_request(ollama_server, registry):
    """A tag naming a registry the class does not allow is refused with the allowed list; no
    request leaves for it, and the test registry sees nothing either."""
    at = _open(ollama_server, registry)
    at.text_input(key=f"{PULL}-own-tag").input("evil.example/ns/model:q4").run()
    at.button(key=f"{PULL}-own-read").click().run()
    assert not at.exception
    errors = _errors(at)
    assert "Manifests are read only from the registries this class allows" in errors
    assert "registry.ollama.ai" in errors
    assert not registry.requests


def test_the_student_can_pull_their_own_tag_where_pulls_are_on(ollama_server, registry):
    """With pulls on, "Pull it" pulls the typed tag; the widget names it as the student's."""
    ollama_server.remove_model(Q6_TAG)
    at = _open(ollama_server, registry, allow_pull=True)
    at.text_input(key=f"{PULL}-own-tag").input(Q6_TAG).run()
    assert not at.button(key=f"{PULL}-own-pull").disabled
    at.button(key=f"{PULL}-own-pull").click().run()
    assert not at.exception
    assert any(f"Pulled Your tag `{Q6_TAG}`" in s.value for s in at.success)
    assert [r.body["model"] for r in ollama_server.requests_to("/api/pull")] == [Q6_TAG]


def test_manifests_kept_per_session_are_capped(ollama_server, registry):
    """With `[limits] metadata_cache = 2`, a session keeps at most two manifests however many
    tags a student reads: the least recently used go first."""
    at = _open(ollama_server, registry, limits={"metadata_cache": 2})
    for tag in (Q4_TAG, Q6_TAG, "batiai/gemma4-e2b:q3"):
        at.text_input(key=f"{PULL}-own-tag").input(tag).run()
        at.button(key=f"{PULL}-own-read").click().run()
    assert not at.exception
    cache = at.session_state[MANIFEST_CACHE_KEY]
    assert [tag for _, tag in cache] == [Q6_TAG, "batiai/gemma4-e2b:q3"]
    assert [p.rsplit("/", 1)[1] for p in _manifest_reads(registry)] == ["q4", "q6", "q3"]
