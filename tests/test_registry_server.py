"""The registry test server answers as the upstream facts say (docs/model-facts.md, "Registry
manifests"), checked with a plain HTTP client, without quantviz."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from registry_server import RegistryTestServer


@pytest.fixture(scope="module")
def registry():
    with RegistryTestServer() as server:
        yield server


def test_manifest_shape_and_consistency_with_the_ollama_test_server(registry):
    """Each tag's manifest: schemaVersion 2, the Docker v2 media type, a config descriptor whose
    digest and size are those of the config blob the registry serves, and the Ollama test
    server's layers with Ollama's media types; template, license and params shared."""
    catalog = OllamaTestServer(installed=()).catalog
    docs = {}
    for tag, ref in ((Q4_TAG, "q4"), (Q6_TAG, "q6")):
        r = httpx.get(f"{registry.url}/v2/batiai/gemma4-e2b/manifests/{ref}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/vnd.docker.distribution.manifest.v2+json"
        doc = r.json()
        assert doc["schemaVersion"] == 2
        assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert [(layer["digest"], layer["size"]) for layer in doc["layers"]] == [
            tuple(x) for x in catalog[tag].layers
        ]
        assert [layer["mediaType"].rsplit(".", 1)[1] for layer in doc["layers"]] == [
            "model", "template", "license", "params"
        ]  # fmt: skip
        config = doc["config"]
        assert config["mediaType"] == "application/vnd.docker.container.image.v1+json"
        blob = httpx.get(f"{registry.url}/v2/batiai/gemma4-e2b/blobs/{config['digest']}").content
        assert config["digest"] == "sha256:" + hashlib.sha256(blob).hexdigest()
        assert config["size"] == len(blob)
        assert json.loads(blob)["file_type"] == {"q4": "Q4_K_M", "q6": "Q6_K"}[ref]
        assert json.loads(blob)["model_format"] == "gguf"
        docs[ref] = doc
    assert docs["q4"]["layers"][1:] == docs["q6"]["layers"][1:]
    assert docs["q4"]["layers"][0]["digest"] != docs["q6"]["layers"][0]["digest"]


def test_unknown_manifest_and_sign_in_answers(registry):
    """404 with the MANIFEST_UNKNOWN body registry.ollama.ai sends; with a token required, 401
    and a Bearer challenge naming realm, service and scope, unless the token is sent."""
    r = httpx.get(f"{registry.url}/v2/library/nope/manifests/latest")
    assert r.status_code == 404
    assert r.json() == {
        "errors": [
            {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "latest"}}
        ]
    }
    registry.require_token("t0k")
    try:
        r = httpx.get(f"{registry.url}/v2/batiai/gemma4-e2b/manifests/q4")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == (
            f'Bearer realm="{registry.url}/v2/token",service="ollama",'
            'scope="repository:batiai/gemma4-e2b:pull"'
        )
        ok = httpx.get(
            f"{registry.url}/v2/batiai/gemma4-e2b/manifests/q4",
            headers={"Authorization": "Bearer t0k"},
        )
        assert ok.status_code == 200
    finally:
        registry.clear_faults()


def test_a_cut_answer_is_shorter_than_announced(registry):
    """The cut fault announces the whole body and closes early: a client sees a broken body."""
    registry.cut_manifests_after(10)
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{registry.url}/v2/batiai/gemma4-e2b/manifests/q4")
    finally:
        registry.clear_faults()
