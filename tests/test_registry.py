"""Registry manifests: ollama's name rules, the manifest's fields, the comparison of two tags,
every fault of a registry over real HTTP, and the rule that a typed tag reaches only the
registries the instructor allows.

Expected values come from upstream: ollama's `types/model/name_test.go` (commit
fb30760996871fa9460115c753afd2c60d4ab0f7), a real registry answer and the Ollama test server's
catalog (docs/model-facts.md, "Registry manifests"), or are written out by hand.
"""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

import httpcore
import pytest
from ollama_server import Q4_TAG, Q6_TAG, OllamaTestServer
from registry_server import MANIFEST_V2, TOKEN_PATH, RegistryTestServer

from quantviz.ollama import endpoint as endpoint_module
from quantviz.ollama.client import Endpoint, pull
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.registry import (
    DEFAULT_REGISTRIES,
    MAX_LAYERS,
    ModelName,
    _valid_part,
    compare_manifests,
    fetch_manifest,
    layer_kind,
    manifest_request,
    parse_manifest,
    parse_name,
    parse_name_bare,
    registries_from,
)

PART80 = "8" * 80
PART350 = "3" * 350

# A real registry answer: gemma:2b as `ollama pull` wrote it to disk (it writes the registry's
# bytes unchanged), from a course homework page; see docs/model-facts.md.
GEMMA_2B = (
    '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
    '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":'
    '"sha256:887433b89a901c156f7e6944442f3c9e57f3c55d6ed52042cbb7303aea994290","size":483},'
    '"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":'
    '"sha256:c1864a5eb19305c40519da12cc543519e48a0697ecd30e15d5ac228644957d12","size":1678447520},'
    '{"mediaType":"application/vnd.ollama.image.license","digest":'
    '"sha256:097a36493f718248845233af1d3fefe7a303f864fae13bc31a3a9704229378ca","size":8433},'
    '{"mediaType":"application/vnd.ollama.image.template","digest":'
    '"sha256:109037bec39c0becc8221222ae23557559bc594290945a2c4221ab4f303b8871","size":136},'
    '{"mediaType":"application/vnd.ollama.image.params","digest":'
    '"sha256:22a838ceb7fb22755a3b0ae9b4eadde629d19be1f651f73efb8c6b4e2cd0eea0","size":84}]}'
)


@pytest.fixture
def registry() -> Any:
    """A fresh registry test server on 127.0.0.1 serving the lab's two tags."""
    with RegistryTestServer() as server:
        yield server


@pytest.fixture
def mirrored(registry: RegistryTestServer):
    """The class's configuration: registry.ollama.ai's manifests read from the test server."""
    return registries_from({"registry.ollama.ai": registry.url})


class ConnectGuard:
    """Records every TCP connection the transport opens (and every name it resolves)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connects: list[tuple[str, int]] = []
        self.resolved: list[str] = []
        real_connect = httpcore.SyncBackend.connect_tcp
        real_resolve = endpoint_module.getaddrinfo
        guard = self

        def connect_tcp(backend: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
            guard.connects.append((host, port))
            return real_connect(backend, host, port, *args, **kwargs)

        def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
            guard.resolved.append(str(host))
            return real_resolve(host, *args, **kwargs)

        monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
        monkeypatch.setattr(endpoint_module, "getaddrinfo", resolve)


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> ConnectGuard:
    return ConnectGuard(monkeypatch)


# --------------------------------------------------------------------------- names (name_test.go)


@pytest.mark.parametrize(
    ("text", "bare", "qualified"),
    [
        ("registry.ollama.ai/library/dolphin-mistral:7b-v2.6-dpo-laser-q6_K",
         ("registry.ollama.ai", "library", "dolphin-mistral", "7b-v2.6-dpo-laser-q6_K", ""),
         ("registry.ollama.ai", "library", "dolphin-mistral", "7b-v2.6-dpo-laser-q6_K")),
        ("scheme://host:port/namespace/model:tag",
         ("host:port", "namespace", "model", "tag", "scheme"),
         ("host:port", "namespace", "model", "tag")),
        ("host/namespace/model:tag", ("host", "namespace", "model", "tag", ""),
         ("host", "namespace", "model", "tag")),
        ("host:port/namespace/model:tag", ("host:port", "namespace", "model", "tag", ""),
         ("host:port", "namespace", "model", "tag")),
        ("host/namespace/model", ("host", "namespace", "model", "", ""),
         ("host", "namespace", "model", "latest")),
        ("host:port/namespace/model", ("host:port", "namespace", "model", "", ""),
         ("host:port", "namespace", "model", "latest")),
        ("namespace/model", ("", "namespace", "model", "", ""),
         ("registry.ollama.ai", "namespace", "model", "latest")),
        ("model", ("", "", "model", "", ""), ("registry.ollama.ai", "library", "model", "latest")),
        ("h/nn/mm:t", ("h", "nn", "mm", "t", ""), ("h", "nn", "mm", "t")),
        (f"{PART80}/{PART80}/{PART80}:{PART80}", (PART80, PART80, PART80, PART80, ""),
         (PART80, PART80, PART80, PART80)),
        (f"{PART350}/{PART80}/{PART80}:{PART80}", (PART350, PART80, PART80, PART80, ""),
         (PART350, PART80, PART80, PART80)),
    ],
)  # fmt: skip
def test_names_split_as_ollama_splits_them(text, bare, qualified):
    """TestParseNameParts: the bare parts of each name, and the four parts (its Filepath) after
    the defaults registry.ollama.ai / library / latest are merged in."""
    got = parse_name_bare(text)
    assert (got.host, got.namespace, got.model, got.tag, got.scheme) == bare
    full = parse_name(text)
    assert (full.host, full.namespace, full.model, full.tag) == qualified
    assert full.problem() is None  # IsFullyQualified


NAME_VALIDITY = {
    "": False,
    "_why/_the/_lucky:_stiff": True,
    "h/n/m:t": True,
    "host/namespace/model:tag": True,
    "host/namespace/model": False,
    "namespace/model": False,
    "model": False,
    f"{PART80}/{PART80}/{PART80}:{PART80}": True,
    f"{PART350}/{PART80}/{PART80}:{PART80}": True,
    "h/nn/mm:t": True,
    "m": False,
    "n/m:": False,
    "h/n/m": False,
    "@t": False,
    "m@d": False,
    "^": False,
    "mm:": False,
    "/nn/mm": False,
    "//": False,
    "//mm": False,
    "hh//": False,
    "//mm:@": False,
    "00@": False,
    "@": False,
    "-hh/nn/mm:tt": False,
    "hh/-nn/mm:tt": False,
    "hh/nn/-mm:tt": False,
    "hh/nn/mm:-tt": False,
    "host:https/namespace/model:tag": True,
    "host/name:space/model:tag": False,
}


@pytest.mark.parametrize(("text", "valid"), NAME_VALIDITY.items())
def test_name_validity_matches_ollamas_table(text, valid):
    """TestNameIsValid: which bare names are fully qualified; a valid one prints back as typed."""
    bare = parse_name_bare(text)
    assert (bare.problem() is None) is valid  # IsFullyQualified
    if valid:
        assert str(bare) == text


@pytest.mark.parametrize(
    ("kind", "part", "valid"),
    [
        ("host", "", False), ("host", "a", True), ("host", "a.", True), ("host", "a.b", True),
        ("host", "a:123", True), ("host", "a:123/aa/bb", False), ("namespace", "bb", True),
        ("namespace", "a.", False), ("model", "-h", False),
        ("host", "é", False), ("model", "mödel", False),  # bytes, not letters: ASCII only
    ],
)  # fmt: skip
def test_part_rules_match_ollamas(kind, part, valid):
    """TestNameIsValidPart (and non-ASCII letters, which ollama's byte checks refuse)."""
    assert _valid_part(kind, part) is valid


def test_defaults_and_shortest_display():
    """TestNameparseNameDefault and TestDisplayShortest."""
    assert str(parse_name("xx")) == "registry.ollama.ai/library/xx:latest"
    shortest = {
        "registry.ollama.ai/library/model:latest": "model:latest",
        "registry.ollama.ai/library/model:tag": "model:tag",
        "registry.ollama.ai/namespace/model:tag": "namespace/model:tag",
        "host/namespace/model:tag": "host/namespace/model:tag",
        "host/library/model:tag": "host/library/model:tag",
    }
    for text, want in shortest.items():
        assert parse_name_bare(text).display_shortest() == want


def test_a_lab_tag_and_a_hugging_face_tag_become_registry_urls():
    """The lab's tag is read from registry.ollama.ai, namespace batiai; a Hugging Face tag from
    hf.co, where no tag means latest (Hugging Face picks the quantization behind it)."""
    lab = manifest_request(Q4_TAG)
    assert lab.url == "https://registry.ollama.ai:443/v2/batiai/gemma4-e2b/manifests/q4"
    hub = registries_from(["registry.ollama.ai", "hf.co"])
    hf = manifest_request("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", hub)
    assert hf.url == "https://hf.co:443/v2/bartowski/Llama-3.2-1B-Instruct-GGUF/manifests/latest"
    library = manifest_request("gemma3", hub)
    assert library.url == "https://registry.ollama.ai:443/v2/library/gemma3/manifests/latest"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Enter a model tag"),
        ("   ", "Enter a model tag"),
        ("m@d", "the model 'm@d' may contain only letters, digits"),
        ("gemma3:", "the tag is missing"),
        ("a/b.c/d:e", "the namespace 'b.c' may contain only letters, digits, '_' and '-'"),
        ("gemma3:-q4", "the tag '-q4' must start with a letter, a digit or '_'"),
        (f"gemma3:{'q' * 81}", "is longer than 80 characters"),
        ("gemma 3", "the model 'gemma 3' may contain only"),
    ],
)
def test_a_name_ollama_refuses_is_refused_with_the_part_named(text, words):
    """A mistyped tag gets a clear message naming the part that is wrong, not a traceback."""
    with pytest.raises(OllamaError) as info:
        manifest_request(text)
    assert info.value.kind == "bad_request"
    assert words in info.value.message


# --------------------------------------------------------------------------- manifest fields


def test_a_real_manifest_is_read_field_by_field():
    """gemma:2b's manifest: four layers with their media-type names, sizes and digests, the
    config blob, the largest layer, and the size `ollama list` shows (layers + config)."""
    m = parse_manifest(GEMMA_2B, "gemma:2b")
    assert str(m.name) == "registry.ollama.ai/library/gemma:2b"
    assert [(layer.kind, layer.size) for layer in m.layers] == [
        ("weights (GGUF)", 1678447520),
        ("license", 8433),
        ("prompt template", 136),
        ("default parameters", 84),
    ]
    assert m.layers[0].media_type == "application/vnd.ollama.image.model"
    assert m.layers[0].short_digest == "c1864a5eb193"  # as `ollama pull` printed it
    assert m.config is not None and m.config.size == 483
    assert m.config.kind == "model config (JSON)"
    assert [b.short_digest for b in m.blobs] == [
        "c1864a5eb193", "097a36493f71", "109037bec39c", "22a838ceb7fb", "887433b89a90"
    ]  # fmt: skip
    assert m.total_size == 1678447520 + 8433 + 136 + 84 + 483
    assert m.largest is not None and m.largest.size == 1678447520
    assert m.digest == "sha256:" + hashlib.sha256(GEMMA_2B.encode()).hexdigest()
    assert m.schema_version == 2 and m.media_type == MANIFEST_V2
    record = m.record()
    assert record["n_layers"] == 4 and record["largest_layer"]["kind"] == "weights (GGUF)"
    json.dumps(record)  # JSON-ready for the evidence log


@pytest.mark.parametrize(
    ("media_type", "kind"),
    [
        ("application/vnd.ollama.image.model", "weights (GGUF)"),
        ("application/vnd.ollama.image.projector", "vision projector (GGUF)"),
        ("application/vnd.ollama.image.adapter", "LoRA adapter"),
        ("application/vnd.ollama.image.template", "prompt template"),
        ("application/vnd.ollama.image.prompt", "prompt template (old media type)"),
        ("application/vnd.ollama.image.system", "system prompt"),
        ("application/vnd.ollama.image.params", "default parameters"),
        ("application/vnd.ollama.image.messages", "example messages"),
        ("application/vnd.ollama.image.license", "license"),
        ("application/vnd.ollama.image.draft", "draft model (speculative decoding)"),
        ("application/vnd.ollama.image.tensor", "one tensor (safetensors)"),
        ("Application/VND.ollama.image.tensor; name=x", "one tensor (safetensors)"),
        ("application/vnd.ollama.image.future", "unknown layer type"),
    ],
)
def test_layers_get_their_media_type_names(media_type, kind):
    """Each Ollama media type has a human name; parameters and case do not matter; an unknown
    type is named as unknown (its raw media type stays on the layer)."""
    assert layer_kind(media_type) == kind


def _manifest(**changes: Any) -> dict[str, Any]:
    doc = json.loads(GEMMA_2B)
    doc.update(changes)
    return doc


def _layer(i: int, **changes: Any) -> dict[str, Any]:
    doc = json.loads(GEMMA_2B)
    doc["layers"][i].update(changes)
    return doc


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"schemaVersion":2,"layers":[', "is not valid JSON"),
        ("[]", "the answer should be a JSON object"),
        (_manifest(schemaVersion=1), "schemaVersion should be 2"),
        (_manifest(schemaVersion=True), "schemaVersion should be 2"),
        (_manifest(layers=None), "layers is missing"),
        ({"schemaVersion": 2, "manifests": []}, "an index of manifests"),
        (_manifest(layers={"a": 1}), "layers should be a list"),
        (_layer(1, size="8433"), "layers[1].size should be a whole number of bytes from 0 to"),
        (_layer(2, size=-1), "layers[2].size should be a whole number"),
        (_layer(0, size=None), "layers[0].size is missing"),
        (_layer(3, digest="sha256:xyz"), "layers[3].digest should be sha256:<64 hex digits>"),
        (_layer(0, mediaType=7), "layers[0].mediaType should be text, got 7"),
        (_layer(0, mediaType=""), "layers[0].mediaType"),
        (_manifest(config="x"), "config should be an object"),
        (_manifest(config={"digest": "md5:1", "size": 1, "mediaType": "x"}), "config.digest"),
        (_manifest(layers=["x"]), "layers[0] should be an object"),
    ],
)
def test_a_malformed_manifest_names_the_field(body, words):
    """A manifest with a wrong field is refused with a message naming that field."""
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(OllamaError) as info:
        parse_manifest(text, "gemma:2b")
    assert info.value.kind == "bad_answer"
    assert words in info.value.message


def test_a_manifest_with_too_many_layers_is_refused():
    """A manifest listing more than MAX_LAYERS layers is refused as too large; exactly that many
    is read."""
    layer = json.loads(GEMMA_2B)["layers"][2]
    doc = _manifest(layers=[layer] * MAX_LAYERS)
    assert len(parse_manifest(json.dumps(doc), "x:y").layers) == MAX_LAYERS
    with pytest.raises(OllamaError) as info:
        parse_manifest(json.dumps(_manifest(layers=[layer] * (MAX_LAYERS + 1))), "x:y")
    assert info.value.kind == "too_large"


def test_a_manifest_without_config_and_with_optional_fields():
    """An empty config is no config blob; `from` and `name` are kept; sha256-<hex> is the
    same digest as sha256:<hex>."""
    hexd = "ab" * 32
    doc = {
        "schemaVersion": 2,
        "config": {},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.tensor", "digest": f"sha256-{hexd}",
             "size": 10, "name": "model.embed_tokens.weight", "from": "base:latest"},
        ],
    }  # fmt: skip
    m = parse_manifest(json.dumps(doc), "x:y")
    assert m.config is None and m.blobs == m.layers
    assert m.layers[0].digest == f"sha256:{hexd}"
    assert m.layers[0].name == "model.embed_tokens.weight"
    assert m.layers[0].from_model == "base:latest"
    assert m.total_size == 10


# --------------------------------------------------------------------------- comparison


def _doc(layers: list[tuple[str, str, int]], config: tuple[str, int] | None) -> str:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "layers": [
            {"mediaType": f"application/vnd.ollama.image.{kind}", "digest": "sha256:" + d * 64,
             "size": size}
            for kind, d, size in layers
        ],
    }  # fmt: skip
    if config:
        doc["config"] = {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:" + config[0] * 64,
            "size": config[1],
        }
    return json.dumps(doc)


def test_comparison_finds_the_layers_the_second_pull_skips():
    """Q4 then Q6: the template, license and params blobs are the same digests, so the second
    pull downloads only its weights and its config; the table pairs the two weights files."""
    q4 = parse_manifest(
        _doc([("model", "a", 3000), ("template", "1", 358), ("license", "2", 8432),
              ("params", "3", 56)], ("c", 150)), "m:q4",
    )  # fmt: skip
    q6 = parse_manifest(
        _doc([("model", "b", 4000), ("template", "1", 358), ("license", "2", 8432),
              ("params", "3", 56)], ("d", 152)), "m:q6",
    )  # fmt: skip
    cmp = compare_manifests(q4, q6)
    assert [b.short_digest for b in cmp.shared] == ["1" * 12, "2" * 12, "3" * 12]
    assert cmp.shared_bytes == 358 + 8432 + 56
    assert [b.short_digest for b in cmp.to_download] == ["b" * 12, "d" * 12]
    assert cmp.download_bytes == 4000 + 152
    rows = [(r.kind, r.shared, r.first and r.first.size, r.second and r.second.size)
            for r in cmp.rows]  # fmt: skip
    assert rows == [
        ("weights (GGUF)", False, 3000, 4000),
        ("prompt template", True, 358, 358),
        ("license", True, 8432, 8432),
        ("default parameters", True, 56, 56),
        ("model config (JSON)", False, 150, 152),
    ]


def test_comparison_of_unequal_manifests():
    """A layer only one tag has gets a row of its own; a digest listed twice is downloaded once;
    nothing is shared between unrelated models; the largest layer is each one's weights."""
    first = parse_manifest(_doc([("model", "a", 10), ("projector", "e", 7)], None), "m:a")
    second = parse_manifest(
        _doc([("model", "b", 20), ("system", "5", 3), ("system", "5", 3)], ("c", 5)), "m:b"
    )
    cmp = compare_manifests(first, second)
    assert cmp.shared == () and cmp.shared_bytes == 0
    assert [b.short_digest for b in cmp.to_download] == ["b" * 12, "5" * 12, "c" * 12]
    assert cmp.download_bytes == 20 + 3 + 5
    rows = [(r.kind, r.first is not None, r.second is not None) for r in cmp.rows]
    assert rows == [
        ("weights (GGUF)", True, True),
        ("vision projector (GGUF)", True, False),
        ("system prompt", False, True),
        ("system prompt", False, True),
        ("model config (JSON)", False, True),
    ]
    assert first.largest is not None and first.largest.size == 10
    assert second.largest is not None and second.largest.size == 20
    assert [(s.kind, s.count, s.size) for s in second.by_kind()] == [
        ("weights (GGUF)", 1, 20), ("system prompt", 2, 6)
    ]  # fmt: skip


# --------------------------------------------------------------------------- over real HTTP


def test_the_lab_tags_read_from_the_registry_match_what_ollama_pulls(registry, mirrored):
    """Both lab tags, fetched over HTTP: every layer's digest and size is what the Ollama test
    server's own pull of that tag announces (the weights blob its GGUF size), with the media-type
    names in the manifest's order; the second tag shares template, license and params."""
    manifests = {tag: fetch_manifest(tag, mirrored) for tag in (Q4_TAG, Q6_TAG)}
    with OllamaTestServer(installed=()) as ollama_server:
        for tag in (Q4_TAG, Q6_TAG):
            m = manifests[tag]
            pulled = {p.digest: p.total for p in pull(Endpoint(ollama_server.url), tag) if p.digest}
            assert {layer.digest: layer.size for layer in m.layers} == pulled
            assert m.layers[0].size == ollama_server.catalog[tag].layers[0][1]
            assert [layer.kind for layer in m.layers] == [
                "weights (GGUF)", "prompt template", "license", "default parameters"
            ]  # fmt: skip
            assert m.digest == "sha256:" + hashlib.sha256(registry.manifest_bytes(tag)).hexdigest()
            assert m.config is not None and m.config.kind == "model config (JSON)"
    q4, q6 = manifests[Q4_TAG], manifests[Q6_TAG]
    cmp = compare_manifests(q4, q6)
    assert [b.kind for b in cmp.shared] == ["prompt template", "license", "default parameters"]
    assert cmp.shared_bytes == 358 + 8_432 + 56
    assert cmp.to_download == (q6.layers[0], q6.config)
    assert q6.largest == q6.layers[0] and q6.largest.size > q4.largest.size  # type: ignore[union-attr]


def test_the_request_is_the_one_ollama_pull_sends_and_carries_no_credentials(registry, monkeypatch):
    """A tag naming the configured test registry: GET /v2/<ns>/<model>/manifests/<tag> with the
    Docker v2 Accept header and no Authorization, even with OLLAMA_API_KEY in the environment."""
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-must-not-travel")
    registries = registries_from([registry.url])
    m = fetch_manifest(f"{registry.host_name}/batiai/gemma4-e2b:q4", registries)
    assert m.registry == f"{registry.url}/v2/batiai/gemma4-e2b/manifests/q4"
    [request] = registry.requests
    assert request.method == "GET" and request.path == "/v2/batiai/gemma4-e2b/manifests/q4"
    assert request.headers["accept"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert "authorization" not in request.headers
    assert request.headers["user-agent"].startswith("quantviz/")
    assert request.headers["host"] == registry.host_name
    assert "sk-must-not-travel" not in json.dumps(request.headers)


def test_a_manifest_sent_as_text_plain_is_read(registry, mirrored):
    """registry.ollama.ai has sent manifests as text/plain (ollama issue #6470): still read."""
    registry.set_manifest_content_type("text/plain; charset=utf-8")
    assert len(fetch_manifest(Q6_TAG, mirrored).layers) == 4


@pytest.mark.parametrize(
    ("tag", "ref"), [("batiai/gemma4-e2b:q7", "q7"), ("batiai/gemma5-e2b:q4", "q4")]
)
def test_an_unknown_tag_or_model_is_not_found_in_the_registrys_words(registry, mirrored, tag, ref):
    """404 for a misspelled tag or model: kind not_found, the registry's own code and message,
    and the words `ollama pull` fails with at the same step."""
    with pytest.raises(OllamaError) as info:
        fetch_manifest(tag, mirrored)
    error = info.value
    assert error.kind == "not_found" and error.status_code == 404
    assert "MANIFEST_UNKNOWN: manifest unknown" in error.message
    assert "pull model manifest: file does not exist" in error.message
    assert registry.requests[-1].path.endswith(f"/manifests/{ref}")


def test_a_registry_asking_for_sign_in_is_reported_not_answered(registry, mirrored):
    """401 with a Bearer challenge: kind auth, and the challenge's realm is never requested
    (the app has no key to sign it with and sends no credentials)."""
    registry.require_token()
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored)
    assert info.value.kind == "auth" and info.value.status_code == 401
    assert "asks for sign-in" in info.value.message
    assert "UNAUTHORIZED: authentication required" in info.value.message
    assert registry.requests_to(TOKEN_PATH) == []
    assert all("authorization" not in r.headers for r in registry.requests)


def test_forbidden_is_an_auth_error(registry, mirrored):
    """403 is kind auth too, with the registry's words."""
    registry.replace_manifest(
        "q4", {"errors": [{"code": "DENIED", "message": "requested access is denied"}]},
        status=403, content_type="application/json",
    )  # fmt: skip
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored)
    assert info.value.kind == "auth" and "DENIED: requested access is denied" in info.value.message


@pytest.mark.parametrize("cut_after", [0, 100, 855])
def test_a_connection_cut_mid_body_is_a_broken_answer(registry, mirrored, cut_after):
    """The registry announces the whole manifest and closes after part of it: kind stream."""
    assert len(registry.manifest_bytes(Q4_TAG)) == 856  # so 855 cuts before the last byte
    registry.cut_manifests_after(cut_after)
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored)
    assert info.value.kind == "stream"
    assert "dropped while it sent the manifest" in info.value.message


def test_a_registry_that_does_not_answer_in_time_times_out(registry, mirrored):
    """No headers before the deadline: kind timeout."""
    registry.set_delays(headers=30.0)
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored, timeout=0.5)
    assert info.value.kind == "timeout"


def test_a_trickled_answer_times_out_on_the_whole_deadline(registry, mirrored):
    """A body sent a few bytes at a time, each piece well within the read timeout, still ends
    at the deadline for the whole answer (856 bytes at 16 every 0.2 s would take 10 s)."""
    registry.set_delays(trickle=(16, 0.2))
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored, timeout=1.0)
    assert info.value.kind == "timeout"
    assert "did not finish sending the manifest in time" in info.value.message


def test_a_slow_answer_within_the_deadline_is_read(registry, mirrored):
    """The same trickle, with time enough: the manifest is read whole."""
    registry.set_delays(trickle=(256, 0.05))
    assert len(fetch_manifest(Q4_TAG, mirrored, timeout=20.0).layers) == 4


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"schemaVersion":2,"layers":[{"mediaType":', "is not valid JSON"),
        ("<html><body>Welcome to nginx</body></html>", "is not valid JSON"),
        (json.dumps(_layer(1, size="8433")), "layers[1].size"),
    ],
)
def test_malformed_json_from_the_registry_is_a_bad_answer(registry, mirrored, body, words):
    """Broken JSON, an HTML page, a field of the wrong type, sent with status 200."""
    registry.replace_manifest("q4", body)
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored)
    assert info.value.kind == "bad_answer" and words in info.value.message


def test_server_errors_and_redirects(registry, mirrored):
    """500 is kind server with the registry's text; a redirect is reported, not followed."""
    registry.force_status("/v2/batiai/gemma4-e2b/manifests/q4", 500, "upstream exploded",
                          content_type="text/plain")  # fmt: skip
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored)
    assert info.value.kind == "server" and "upstream exploded" in info.value.message
    registry.force_status(
        "/v2/batiai/gemma4-e2b/manifests/q6", 307, headers={"Location": "/elsewhere"}
    )
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q6_TAG, mirrored)
    assert info.value.kind == "bad_url" and "Redirects are not followed" in info.value.message
    assert registry.requests_to("/elsewhere") == []


def test_answers_over_the_size_bound_are_not_read(registry, mirrored):
    """A body over the bound is refused, whether its size is announced or found by reading;
    the same manifest within the bound is read."""
    assert len(fetch_manifest(Q4_TAG, mirrored, max_bytes=856).layers) == 4
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored, max_bytes=855)
    assert info.value.kind == "too_large" and "announced 856 bytes" in info.value.message

    registry.set_announce_length(False)
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, mirrored, max_bytes=855)
    assert info.value.kind == "too_large" and "sent more than 855 bytes" in info.value.message
    assert len(fetch_manifest(Q4_TAG, mirrored, max_bytes=856).layers) == 4

    registry.replace_manifest("q6", b"{" + b" " * 3_000_000 + b"}")
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q6_TAG, mirrored)
    assert info.value.kind == "too_large"


def test_one_bad_tag_does_not_hide_the_others(registry, mirrored):
    """Reads of one registry, one tag after another: a missing tag and a blocked one fail with
    their own kinds, and the good tag around them is read."""
    assert fetch_manifest(Q4_TAG, mirrored).name.tag == "q4"
    with pytest.raises(OllamaError) as missing:
        fetch_manifest("batiai/gemma4-e2b:nope", mirrored)
    assert missing.value.kind == "not_found"
    with pytest.raises(OllamaError) as blocked:
        fetch_manifest("169.254.169.254/x/y:z", mirrored)
    assert blocked.value.kind == "blocked"
    assert len(fetch_manifest(Q6_TAG, mirrored).layers) == 4


# --------------------------------------------------------------------------- the host rule


def test_the_guard_sees_a_real_connection(registry, mirrored, guard):
    """The connection guard used below records the one connection an allowed tag makes, so an
    empty record means nothing was opened."""
    fetch_manifest(Q4_TAG, mirrored)
    assert guard.connects == [("127.0.0.1", registry.port)]


@pytest.mark.parametrize(
    "tag",
    [
        "169.254.169.254/x/y:z",
        "169.254.169.254:80/latest/meta-data:iam",
        "metadata.google.internal/computeMetadata/v1:x",
        "http://10.0.0.1:8080/x/y:z",
        "evil.example/library/gemma3:1b",
        "registry.ollama.ai.evil.example/library/gemma3:1b",
        "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",  # not allowed by default either
    ],
)
def test_a_tag_naming_another_registry_is_refused_before_any_connection(tag, guard):
    """With the default configuration only registry.ollama.ai may be named: any other host is
    refused, named in the message, and nothing is resolved or connected to."""
    with pytest.raises(OllamaError) as info:
        fetch_manifest(tag)
    assert info.value.kind == "blocked"
    assert "registry.ollama.ai" in info.value.message
    assert guard.connects == [] and guard.resolved == []


def test_a_loopback_registry_not_configured_is_never_contacted(registry, guard):
    """The test registry itself, named in a tag but not configured: refused, and the server
    accepted no connection."""
    with pytest.raises(OllamaError) as info:
        fetch_manifest(f"{registry.host_name}/batiai/gemma4-e2b:q4")
    assert info.value.kind == "blocked"
    assert repr(registry.host_name) in info.value.message
    assert registry.connections == 0 and guard.connects == []


def test_the_configured_registry_allows_only_its_own_scheme(registry, guard):
    """A tag naming the configured http:// registry with https:// is refused, unsent."""
    registries = registries_from([registry.url])
    with pytest.raises(OllamaError) as info:
        fetch_manifest(f"https://{registry.host_name}/batiai/gemma4-e2b:q4", registries)
    assert info.value.kind == "blocked" and "leave the scheme out" in info.value.message
    assert guard.connects == []
    assert fetch_manifest(f"http://{registry.host_name}/batiai/gemma4-e2b:q4", registries)


@pytest.mark.parametrize(
    ("address", "words"),
    [("169.254.169.254", "cloud-metadata address"), ("127.0.0.1", "loopback address")],
)
def test_the_default_registry_is_held_to_public_addresses(monkeypatch, guard, address, words):
    """If registry.ollama.ai resolves to a metadata or loopback address (a poisoned resolver),
    the default registry is refused at the connection: it is not a configured, trusted one."""

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        guard.resolved.append(str(host))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(endpoint_module, "getaddrinfo", resolve)
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, DEFAULT_REGISTRIES)
    assert info.value.kind == "blocked" and words in info.value.message
    assert guard.resolved == ["registry.ollama.ai"] and guard.connects == []


@pytest.mark.parametrize(
    "words",
    [
        "Name or service not known",  # glibc, EAI_NONAME
        "Temporary failure in name resolution",  # glibc, EAI_AGAIN
        "nodename nor servname provided, or not known",  # macOS
        "getaddrinfo failed",  # Windows
    ],
)
def test_a_registry_name_that_does_not_resolve_is_named(monkeypatch, words):
    """A configured registry whose name the resolver refuses, in the words of each platform's
    getaddrinfo: kind refused, and the message says the name does not resolve."""

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, words)

    monkeypatch.setattr(endpoint_module, "getaddrinfo", resolve)
    registries = registries_from(["mirror.school.example"])
    with pytest.raises(OllamaError) as info:
        fetch_manifest("mirror.school.example/library/gemma3:1b", registries)
    assert info.value.kind == "refused"
    assert "mirror.school.example does not resolve here" in info.value.message


def test_nothing_answering_is_refused(registry):
    """A configured registry with nothing listening: kind refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    registries = registries_from({"registry.ollama.ai": f"http://127.0.0.1:{free_port}"})
    with pytest.raises(OllamaError) as info:
        fetch_manifest(Q4_TAG, registries, timeout=5)
    assert info.value.kind == "refused"


# --------------------------------------------------------------------------- configuration


def test_registries_config_forms():
    """A list names registries as tags spell them (https unless the entry says http://, with
    its port); a table maps a host to the URL its manifests are read from; both are trusted,
    unlike the built-in default."""
    listed = registries_from(["registry.ollama.ai", "HF.co", "http://127.0.0.1:5000"])
    assert [(r.name, r.base.url) for r in listed] == [
        ("registry.ollama.ai", "https://registry.ollama.ai:443"),
        ("hf.co", "https://hf.co:443"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ]
    assert all(r.allow_private is None for r in listed)
    mapped = registries_from({"registry.ollama.ai": "https://mirror.school.example/ollama"})
    request = manifest_request("gemma3:1b", mapped)
    assert request.url == (
        "https://mirror.school.example:443/ollama/v2/library/gemma3/manifests/1b"
    )
    assert [r.allow_private for r in DEFAULT_REGISTRIES] == [False]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("registry.ollama.ai", "must be a list"),
        ([], "is empty"),
        ([5], "registries[0] must be a registry host or URL"),
        (["ftp://x.example"], "registries[0]: Use http:// or https://"),
        (["hf.co", "HF.CO"], "names hf.co twice"),
        ({"bad host!": "https://x.example"}, "cannot be the host of a model name"),
        ({"registry.ollama.ai": ""}, "registries.registry.ollama.ai must be a registry host"),
        (["https://user:pw@x.example"], "not in the address"),
    ],
)
def test_unusable_registries_config_is_named(raw, words):
    """Each unusable entry is refused with a message naming it."""
    with pytest.raises(ValueError) as info:
        registries_from(raw)
    assert words in str(info.value)


def test_model_name_prints_as_ollama_does():
    """Name.String leaves out empty parts."""
    assert str(ModelName(model="m")) == "m"
    assert str(ModelName(namespace="n", model="m", tag="t")) == "n/m:t"
    assert str(ModelName("h", "n", "m", "t", "http")) == "h/n/m:t"
