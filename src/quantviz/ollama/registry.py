"""A model's manifest, read from the registry endpoint that `ollama pull` itself reads.

A student can see which layers (blobs) a tag is made of, with their media types, sizes and
digests, without pulling anything: the endpoint's `allow_pull` does not matter here, and no
Ollama server is involved. Every fact below is cited in docs/model-facts.md ("Registry
manifests"), from the ollama source at commit fb30760996871fa9460115c753afd2c60d4ab0f7:

* a model name is parsed as ollama's `types/model/name.go` does (`parse_name`): host, namespace,
  model, tag, with the defaults `registry.ollama.ai`, `library`, `latest` and `https`;
* the manifest is `GET <scheme>://<host>/v2/<namespace>/<model>/manifests/<tag>` with
  `Accept: application/vnd.docker.distribution.manifest.v2+json` (`server/images.go`
  `pullModelManifest`); the answer is `{schemaVersion, mediaType, config, layers: [{mediaType,
  digest, size, from?, name?}]}` (`manifest/manifest.go`, `manifest/layer.go`);
* `ollama pull` downloads every layer, then the config blob, and skips each blob whose digest it
  already has (`PullModel`, `downloadBlob`); `ollama list` shows the manifest's byte digest as
  the ID and layers + config as the size.

Safety: a tag is typed by a student, so its host must be one of the registries the instructor
allows (`[ollama] registries`, default only `registry.ollama.ai`), checked before anything is
resolved or sent. The request goes through the project's pinned transport (resolve, check,
connect to the checked address); the built-in default registry is held to the public-address
rule, a registry the instructor configured is trusted like the instructor's own host. Nothing
carries credentials: no API key, no Authorization header; a registry that asks for sign-in (401)
is reported, not answered. Redirects are not followed; the answer is bounded in bytes, layers and
time. Registry text ends up only in `OllamaError.message` and `ManifestLayer` fields, which the
UI shows inert (`quantviz.text.plain`).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx

from quantviz import __version__
from quantviz.ollama.client import CONNECT_TIMEOUT, MAX_BYTES, _connect_failure, _ssl_context
from quantviz.ollama.endpoint import EndpointURL, normalize_url
from quantviz.ollama.errors import OllamaError
from quantviz.ollama.transport import pinned_transport

# types/model/name.go
DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_SCHEME = "https"
MISSING_PART = "!MISSING!"  # a part a separator promised but that is empty

# server/images.go pullModelManifest; manifest/manifest.go WriteManifest
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"

MANIFEST_TIMEOUT = 20.0  # seconds for the whole answer, not per read
MAX_MANIFEST_BYTES = 2 * 1024 * 1024  # a GGUF model's manifest is ~1 kB; a safetensors one with
# one layer per tensor (application/vnd.ollama.image.tensor) a few hundred kB
MAX_LAYERS = 4096
ERROR_BODY_BYTES = 64 * 1024  # what is read of a refusal (404, 401, 5xx) for its message

# Every media type the ollama snapshot writes or reads, with the name a student sees. Sources:
# server/images.go GetModel (what each layer means when a model loads), server/create.go and
# x/create (what writes them), manifest/layer.go (tensor, draft).
LAYER_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "application/vnd.ollama.image.model": "weights (GGUF)",
        "application/vnd.ollama.image.projector": "vision projector (GGUF)",
        "application/vnd.ollama.image.adapter": "LoRA adapter",
        "application/vnd.ollama.image.draft": "draft model (speculative decoding)",
        "application/vnd.ollama.image.tensor": "one tensor (safetensors)",
        "application/vnd.ollama.image.json": "model file (JSON)",
        "application/vnd.ollama.image.template": "prompt template",
        "application/vnd.ollama.image.prompt": "prompt template (old media type)",
        "application/vnd.ollama.image.system": "system prompt",
        "application/vnd.ollama.image.params": "default parameters",
        "application/vnd.ollama.image.messages": "example messages",
        "application/vnd.ollama.image.license": "license",
        "application/vnd.ollama.image.embed": "embeddings (deprecated, ignored)",
        "application/vnd.docker.container.image.v1+json": "model config (JSON)",
    }
)
UNKNOWN_KIND = "unknown layer type"

_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")  # manifest/paths.go BlobsPath
_NAME_START = frozenset(string.ascii_letters + string.digits + "_")


def layer_kind(media_type: str) -> str:
    """The human name of a layer's media type; parameters after ';' are ignored."""
    base = media_type.split(";", 1)[0].strip().lower()
    return LAYER_KINDS.get(base, UNKNOWN_KIND)


# --------------------------------------------------------------------------- names


_PART_LIMITS = {"host": 350, "namespace": 80, "model": 80, "tag": 80}


def _valid_part(kind: str, part: str) -> bool:
    """ollama's isValidPart: a letter, digit or '_' first, then those and '-', '_'; '.' except
    in a namespace; ':' only in a host. Bytes, not letters: anything outside ASCII is invalid."""
    if not 1 <= len(part) <= _PART_LIMITS[kind]:
        return False
    if part[0] not in _NAME_START:
        return False
    for ch in part[1:]:
        if ch in "_-" or ch in _NAME_START:
            continue
        if ch == "." and kind != "namespace":
            continue
        if ch == ":" and kind == "host":
            continue
        return False
    return True


def _part_problem(kind: str, part: str) -> str | None:
    """Why `part` is not a valid `kind`, in words; None when it is valid."""
    if _valid_part(kind, part):
        return None
    if part in ("", MISSING_PART):
        return f"the {kind} is missing"
    shown = part if len(part) <= 40 else part[:39] + "…"
    if len(part) > _PART_LIMITS[kind]:
        return f"the {kind} {shown!r} is longer than {_PART_LIMITS[kind]} characters"
    if part[0] not in _NAME_START:
        return f"the {kind} {shown!r} must start with a letter, a digit or '_'"
    allowed = {
        "host": "letters, digits, '_', '-', '.' and ':'",
        "namespace": "letters, digits, '_' and '-'",
    }.get(kind, "letters, digits, '_', '-' and '.'")
    return f"the {kind} {shown!r} may contain only {allowed}"


def _cut_promised(text: str, sep: str) -> tuple[str, str, bool]:
    """ollama's cutPromised: cut at the last `sep`; an empty side becomes MISSING_PART."""
    i = text.rfind(sep)
    if i < 0:
        return text, "", False
    return text[:i] or MISSING_PART, text[i + len(sep) :] or MISSING_PART, True


@dataclass(frozen=True)
class ModelName:
    """A model name's parts, as ollama's `model.Name` holds them (empty: not given)."""

    host: str = ""
    namespace: str = ""
    model: str = ""
    tag: str = ""
    scheme: str = ""

    def __str__(self) -> str:
        """ollama's Name.String: host/namespace/model:tag, leaving out empty parts."""
        text = "".join(f"{p}/" for p in (self.host, self.namespace) if p) + self.model
        return f"{text}:{self.tag}" if self.tag else text

    @property
    def repository(self) -> str:
        """namespace/model: the repository part of the registry URL (DisplayNamespaceModel)."""
        return f"{self.namespace}/{self.model}"

    def display_shortest(self) -> str:
        """ollama's DisplayShortest: 'model:tag' on the default registry and namespace."""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"

    def problem(self) -> str | None:
        """The first part that keeps the name from being fully qualified, in words; None when
        every part is present and valid (ollama's IsFullyQualified)."""
        for kind in ("host", "namespace", "model", "tag"):
            reason = _part_problem(kind, getattr(self, kind))
            if reason is not None:
                return reason
        return None


def parse_name_bare(text: str) -> ModelName:
    """ollama's ParseNameBare: split a name into its parts, without defaults.

    'host:port/namespace/model:tag' -> every part; 'namespace/model' -> no host or tag.
    """
    tag = ""
    if text.rfind(":") > text.rfind("/"):  # '/' cannot be in a tag, so this ':' starts one
        text, tag, _ = _cut_promised(text, ":")
    text, model, promised = _cut_promised(text, "/")
    if not promised:
        return ModelName(model=text, tag=tag)
    text, namespace, promised = _cut_promised(text, "/")
    if not promised:
        return ModelName(namespace=text, model=model, tag=tag)
    scheme, sep, host = text.partition("://")
    if not sep:
        scheme, host = "", scheme
    return ModelName(host, namespace, model, tag, scheme)


def parse_name(text: str) -> ModelName:
    """ollama's ParseName: the bare parts, with the default host, namespace, tag and scheme."""
    bare = parse_name_bare(text)
    return ModelName(
        host=bare.host or DEFAULT_HOST,
        namespace=bare.namespace or DEFAULT_NAMESPACE,
        model=bare.model,
        tag=bare.tag or DEFAULT_TAG,
        scheme=bare.scheme or DEFAULT_SCHEME,
    )


# --------------------------------------------------------------------------- registries


@dataclass(frozen=True)
class Registry:
    """A registry a model name may name, and where its /v2/ API is read.

    `name` is the host part as model names spell it (lower-case, with a port if it has one);
    `base` is where manifests are fetched: the same host over https for a plain entry, or another
    address (a mirror, a test registry) for a mapped one. `trusted`: configured by the
    instructor, so no address rule applies (like the instructor's Ollama host); the built-in
    default is held to public addresses.
    """

    name: str
    base: EndpointURL
    trusted: bool = True

    @property
    def allow_private(self) -> bool | None:
        """The address rule for `quantviz.ollama.transport`: None trusts, False: public only."""
        return None if self.trusted else False

    def manifest_url(self, name: ModelName) -> str:
        return f"{self.base.url}/v2/{name.repository}/manifests/{name.tag}"


DEFAULT_REGISTRIES: tuple[Registry, ...] = (
    Registry(DEFAULT_HOST, normalize_url(f"{DEFAULT_SCHEME}://{DEFAULT_HOST}"), trusted=False),
)


def _registry(name: str, address: str, where: str) -> Registry:
    """One entry: the host as model names spell it, and the base URL its manifests come from."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"{where} must be a registry host or URL, got {address!r}")
    address = address.strip()
    url = address if "://" in address else f"{DEFAULT_SCHEME}://{address}"
    try:
        base = normalize_url(url)
    except OllamaError as exc:
        raise ValueError(f"{where}: {exc.message}") from None
    if not _valid_part("host", name):
        raise ValueError(
            f"{where}: {name!r} cannot be the host of a model name "
            "(letters, digits, '_', '-', '.' and ':' only), so no tag could name it"
        )
    return Registry(name.lower(), base)


def _spelled_host(address: str) -> str:
    """The host[:port] an address spells, as a model name would carry it."""
    rest = address.strip().split("://", 1)[-1]
    return rest.split("/", 1)[0]


def registries_from(raw: Any) -> tuple[Registry, ...]:
    """The `[ollama] registries` value: a list of registries, or a table of mirrors.

    * a list of hosts or URLs, e.g. `["registry.ollama.ai", "hf.co", "http://127.0.0.1:5000"]`:
      a tag may name each of them (`hf.co/user/repo:Q4_K_M`, `127.0.0.1:5000/ns/model:tag`),
      and its manifests are read there (https unless the entry says http://);
    * a table of host = URL, e.g. `{"registry.ollama.ai" = "https://mirror.school.example"}`:
      a tag naming the host (or no host: registry.ollama.ai) is read from the URL instead.

    Raises ValueError naming the entry that cannot be used.
    """
    entries: list[Registry] = []
    if isinstance(raw, Mapping):
        for key, address in raw.items():
            entries.append(_registry(str(key).strip(), address, f"[ollama] registries.{key}"))
    elif isinstance(raw, (list, tuple)):
        for i, address in enumerate(raw):
            where = f"[ollama] registries[{i}]"
            if not isinstance(address, str):
                raise ValueError(f"{where} must be a registry host or URL, got {address!r}")
            entries.append(_registry(_spelled_host(address), address, where))
    else:
        raise ValueError(
            '[ollama] registries must be a list such as ["registry.ollama.ai", "hf.co"] or a '
            'table such as {"registry.ollama.ai" = "https://mirror.example"}'
        )
    if not entries:
        raise ValueError("[ollama] registries is empty; leave it out to use registry.ollama.ai")
    names = [r.name for r in entries]
    doubled = next((n for n in names if names.count(n) > 1), None)
    if doubled is not None:
        raise ValueError(f"[ollama] registries names {doubled} twice")
    return tuple(entries)


@dataclass(frozen=True)
class ManifestRequest:
    """Where the manifest of a checked tag is read."""

    name: ModelName
    registry: Registry

    @property
    def url(self) -> str:
        return self.registry.manifest_url(self.name)


def manifest_request(
    tag: str, registries: Sequence[Registry] = DEFAULT_REGISTRIES
) -> ManifestRequest:
    """Parse `tag` as ollama does and check its host against the allowed registries.

    Nothing is resolved or sent. Raises OllamaError "bad_request" for a name ollama would not
    accept (naming the part) and "blocked" for a registry the instructor does not allow.
    """
    text = (tag or "").strip()
    if not text:
        raise OllamaError("bad_request", "Enter a model tag, for example gemma3:1b.")
    if len(text) > 700:
        raise OllamaError("bad_request", "That model name is too long to be a valid one.")
    bare = parse_name_bare(text)
    name = parse_name(text)
    problem = name.problem()
    if problem is not None:
        raise OllamaError(
            "bad_request",
            f"{_quoted(text)} is not a model name ollama accepts: {problem}. A name is "
            "[host/][namespace/]model[:tag], for example gemma3:1b or hf.co/user/repo:Q4_K_M.",
        )
    registry = next((r for r in registries if r.name == name.host.lower()), None)
    if registry is None:
        allowed = ", ".join(r.name for r in registries)
        raise OllamaError(
            "blocked",
            f"Manifests are read only from the registries this class allows ({allowed}); "
            f"{_quoted(text)} names the registry {_quoted(name.host)}.",
        )
    if bare.scheme and bare.scheme.lower() != registry.base.scheme:
        raise OllamaError(
            "blocked",
            f"{_quoted(text)} asks for {bare.scheme}://, but this class reads "
            f"{registry.name} over {registry.base.scheme}://; leave the scheme out.",
        )
    return ManifestRequest(name, registry)


def _quoted(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class ManifestLayer:
    """One blob of a manifest: a layer, or the config blob."""

    media_type: str
    kind: str  # the media type's human name (LAYER_KINDS), or UNKNOWN_KIND
    digest: str  # sha256:<64 hex>
    size: int  # bytes
    name: str | None = None  # a tensor or file name (safetensors models)
    from_model: str | None = None  # `from`: the model this layer was inherited from

    @property
    def short_digest(self) -> str:
        """The 12 hex digits `ollama pull` shows ('pulling c1864a5eb193')."""
        return self.digest[7:19]


@dataclass(frozen=True)
class KindShare:
    """Layers of one kind in a manifest: how many and how many bytes."""

    kind: str
    count: int
    size: int


@dataclass(frozen=True)
class Manifest:
    """A tag's manifest as the registry sent it."""

    name: ModelName
    registry: str  # the URL it was read from ("" when parsed from bytes at hand)
    digest: str  # sha256:<hex> of the manifest's bytes; `ollama list` shows 12 of them as ID
    n_bytes: int  # the manifest's own size
    schema_version: int
    media_type: str | None
    config: ManifestLayer | None
    layers: tuple[ManifestLayer, ...]

    @property
    def blobs(self) -> tuple[ManifestLayer, ...]:
        """What `ollama pull` downloads, in its order: every layer, then the config blob."""
        return self.layers + ((self.config,) if self.config is not None else ())

    @property
    def total_size(self) -> int:
        """Layers plus config: the SIZE `ollama list` shows once the tag is pulled."""
        return sum(b.size for b in self.blobs)

    @property
    def largest(self) -> ManifestLayer | None:
        """The largest layer (the first of equals); None for a manifest without layers."""
        return max(self.layers, key=lambda layer: layer.size, default=None)

    def by_kind(self) -> tuple[KindShare, ...]:
        """Layers grouped by kind, largest share first (a safetensors model has thousands)."""
        acc: dict[str, list[int]] = {}
        for layer in self.layers:
            count, size = acc.setdefault(layer.kind, [0, 0])
            acc[layer.kind] = [count + 1, size + layer.size]
        shares = [KindShare(kind, c, s) for kind, (c, s) in acc.items()]
        return tuple(sorted(shares, key=lambda s: s.size, reverse=True))

    def record(self) -> dict[str, Any]:
        """A JSON-ready summary for the evidence log."""

        def blob(b: ManifestLayer) -> dict[str, Any]:
            out: dict[str, Any] = {
                "media_type": b.media_type,
                "kind": b.kind,
                "digest": b.digest,
                "size": b.size,
            }
            if b.name:
                out["name"] = b.name
            return out

        largest = self.largest
        return {
            "name": str(self.name),
            "registry": self.registry,
            "manifest_digest": self.digest,
            "n_layers": len(self.layers),
            "total_bytes": self.total_size,
            "largest_layer": blob(largest) if largest else None,
            "config": blob(self.config) if self.config else None,
            "layers": [blob(layer) for layer in self.layers],
        }


def _malformed(where: str, problem: str) -> OllamaError:
    return OllamaError("bad_answer", f"The registry's manifest is malformed: {where} {problem}.")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        missing = "is missing" if value is None else f"should be text, got {_shown(value)}"
        raise _malformed(f"{where}.{key}", missing)
    return value


def _layer(raw: Any, where: str) -> ManifestLayer:
    if not isinstance(raw, Mapping):
        raise _malformed(where, f"should be an object, got {_shown(raw)}")
    media_type = _text(raw, "mediaType", where, required=True) or ""
    digest = _text(raw, "digest", where, required=True) or ""
    if not _DIGEST.match(digest):
        raise _malformed(
            f"{where}.digest", f"should be sha256:<64 hex digits>, got {_shown(digest)}"
        )
    size = raw.get("size")
    if size is None:
        raise _malformed(f"{where}.size", "is missing")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_BYTES:
        raise _malformed(
            f"{where}.size",
            f"should be a whole number of bytes from 0 to {MAX_BYTES:,}, got {_shown(size)}",
        )
    return ManifestLayer(
        media_type=media_type,
        kind=layer_kind(media_type),
        digest="sha256:" + digest[7:],  # BlobsPath also accepts sha256-<hex>: one spelling
        size=size,
        name=_text(raw, "name", where, required=False) or None,
        from_model=_text(raw, "from", where, required=False) or None,
    )


def parse_manifest(body: bytes | str, name: ModelName | str, *, registry: str = "") -> Manifest:
    """Check a manifest's JSON field by field; raises OllamaError "bad_answer" naming the field.

    The shape is ollama's `manifest.Manifest`: schemaVersion 2, mediaType, config (a layer) and
    layers (each mediaType, digest, size, optional from and name).
    """
    data = body.encode() if isinstance(body, str) else body
    model = parse_name(name) if isinstance(name, str) else name
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise OllamaError(
            "bad_answer", "The registry's answer is not a manifest: it is not valid JSON."
        ) from None
    if not isinstance(raw, Mapping):
        raise _malformed("the answer", f"should be a JSON object, got {_shown(raw)}")
    version = raw.get("schemaVersion")
    if version != 2 or isinstance(version, bool):
        raise _malformed(
            "schemaVersion", f"should be 2 (the v2 manifest ollama reads), got {_shown(version)}"
        )
    media_type = _text(raw, "mediaType", "manifest", required=False)
    layers_raw = raw.get("layers")
    if layers_raw is None:
        if "manifests" in raw:
            raise _malformed("layers", "is missing: this is an index of manifests, not one model's")
        raise _malformed("layers", "is missing")
    if not isinstance(layers_raw, list):
        raise _malformed("layers", f"should be a list, got {_shown(layers_raw)}")
    if len(layers_raw) > MAX_LAYERS:
        raise OllamaError(
            "too_large",
            f"The manifest lists {len(layers_raw):,} layers, more than the {MAX_LAYERS:,} this "
            "view reads.",
        )
    layers = tuple(_layer(item, f"layers[{i}]") for i, item in enumerate(layers_raw))
    config_raw = raw.get("config")
    config = None
    # An empty config ({} or a zero digest) is what ollama's Go struct holds when there is none.
    if isinstance(config_raw, Mapping) and config_raw.get("digest"):
        config = _layer(config_raw, "config")
    elif config_raw not in (None, {}) and not isinstance(config_raw, Mapping):
        raise _malformed("config", f"should be an object, got {_shown(config_raw)}")
    return Manifest(
        name=model,
        registry=registry,
        digest="sha256:" + hashlib.sha256(data).hexdigest(),
        n_bytes=len(data),
        schema_version=2,
        media_type=media_type,
        config=config,
        layers=layers,
    )


# --------------------------------------------------------------------------- fetching


def _registry_errors(body: bytes) -> str:
    """The registry's own words from a Docker-style error body, or its short text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace")
        text = " ".join(text.split())
        if not text or text.startswith("<"):
            return ""
        return text if len(text) <= 200 else text[:199] + "…"
    errors = data.get("errors") if isinstance(data, Mapping) else None
    parts = []
    if isinstance(errors, list):
        for err in errors[:3]:
            if not isinstance(err, Mapping):
                continue
            code, message = err.get("code"), err.get("message")
            words = [str(v) for v in (code, message) if isinstance(v, str) and v]
            if words:
                parts.append(": ".join(words))
    elif isinstance(data, Mapping) and isinstance(data.get("error"), str):
        parts.append(data["error"])
    text = "; ".join(parts)
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def _status_error(status: int, body: bytes, request: ManifestRequest) -> OllamaError:
    where = request.registry.name
    what = f"{request.name.repository}:{request.name.tag}"
    said = _registry_errors(body)
    said_part = f" (it said: {said})" if said else ""
    if 300 <= status < 400:
        return OllamaError(
            "bad_url",
            f"The registry {where} redirected the manifest request (HTTP {status}). Redirects are "
            "not followed, so no registry can send the app elsewhere; if it moved, the "
            "instructor configures its new address.",
            status_code=status,
        )
    if status == 401:
        return OllamaError(
            "auth",
            f"The registry {where} asks for sign-in to read {what} (HTTP 401){said_part}. "
            "`ollama pull` answers that challenge with the Ollama installation's own key; this "
            "app has no key and reads only public manifests.",
            status_code=status,
        )
    if status == 403:
        return OllamaError(
            "auth",
            f"The registry {where} refuses access to {what} (HTTP 403){said_part}.",
            status_code=status,
        )
    if status == 404:
        return OllamaError(
            "not_found",
            f"The registry {where} has no manifest for {what} (HTTP 404){said_part}. "
            '`ollama pull` stops at the same step: "pull model manifest: file does not exist". '
            "Check the spelling of the model and the tag.",
            status_code=status,
        )
    if status == 429:
        return OllamaError(
            "server",
            f"The registry {where} asks to slow down (HTTP 429){said_part}; try again later.",
            status_code=status,
        )
    if 400 <= status < 500:
        return OllamaError(
            "bad_request",
            f"The registry {where} rejected the manifest request (HTTP {status}){said_part}.",
            status_code=status,
        )
    return OllamaError(
        "server",
        f"The registry {where} failed to answer (HTTP {status}){said_part}.",
        status_code=status,
    )


def _read(response: httpx.Response, limit: int, deadline: float, where: str) -> bytes:
    """The body, up to `limit` bytes, before `deadline` (a slow trickle counts too)."""
    chunks: list[bytes] = []
    seen = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise OllamaError(
                "timeout", f"The registry {where} did not finish sending the manifest in time."
            )
        seen += len(chunk)
        if seen > limit:
            raise OllamaError(
                "too_large",
                f"The registry {where} sent more than {limit:,} bytes; a manifest is a few kB, "
                "so it was not read further.",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _translate(exc: httpx.HTTPError, where: str) -> OllamaError:
    if isinstance(exc, httpx.TimeoutException):
        return OllamaError("timeout", f"The registry {where} did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        failure = _connect_failure(exc)
        if failure == "dns":
            return OllamaError("refused", f"The registry name {where} does not resolve here.")
        if failure == "tls":
            return OllamaError("refused", f"The TLS (https) handshake with {where} failed.")
        return OllamaError(
            "refused", f"Nothing answered at the registry {where} (connection refused)."
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return OllamaError(
            "stream",
            f"The connection to the registry {where} dropped while it sent the manifest; "
            "the answer is incomplete.",
        )
    return OllamaError(
        "refused", f"The request to the registry {where} failed ({type(exc).__name__})."
    )


def fetch_manifest(
    tag: str,
    registries: Sequence[Registry] = DEFAULT_REGISTRIES,
    *,
    timeout: float = MANIFEST_TIMEOUT,
    max_bytes: int = MAX_MANIFEST_BYTES,
) -> Manifest:
    """The manifest of `tag` from its registry, checked field by field.

    Raises OllamaError: "bad_request" (not a model name), "blocked" (a registry this class does
    not allow, or an address the rule refuses), "not_found" (404: unknown model or tag, with the
    registry's own words), "auth" (401/403), "refused", "timeout" (`timeout` seconds for the whole
    answer: a deadline checked as bytes arrive, so a stalled answer ends within twice that),
    "stream" (the connection dropped mid-answer), "too_large" (over `max_bytes` or
    MAX_LAYERS), "bad_answer" (not a manifest; the message names the field), "bad_url" (a
    redirect), "server" (5xx, 429).
    """
    request = manifest_request(tag, registries)
    where = request.registry.name
    deadline = time.monotonic() + timeout
    client = httpx.Client(
        headers={"Accept": MANIFEST_V2, "User-Agent": f"quantviz/{__version__}"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        follow_redirects=False,
        # One byte of slack: the registry's own too_large message (in _read) comes first.
        transport=pinned_transport(request.registry.allow_private, _ssl_context(), max_bytes + 1),
        trust_env=False,  # no proxy, no .netrc credentials
    )
    try:
        with client, client.stream("GET", request.url) as response:
            if response.status_code != 200:
                try:
                    body = _read(response, min(max_bytes, ERROR_BODY_BYTES), deadline, where)
                except (OllamaError, httpx.HTTPError):
                    body = b""
                raise _status_error(response.status_code, body, request)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise OllamaError(
                    "too_large",
                    f"The registry {where} announced {int(length):,} bytes for the manifest, "
                    f"more than the {max_bytes:,} this view reads.",
                )
            body = _read(response, max_bytes, deadline, where)
    except httpx.HTTPError as exc:
        raise _translate(exc, where) from exc
    return parse_manifest(body, request.name, registry=request.url)


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class LayerPair:
    """One row of the per-layer table: the same blob in both tags, or the same kind of blob."""

    kind: str
    first: ManifestLayer | None
    second: ManifestLayer | None

    @property
    def shared(self) -> bool:
        """Same digest: the second pull finds the blob already there and skips it."""
        return (
            self.first is not None
            and self.second is not None
            and self.first.digest == self.second.digest
        )


@dataclass(frozen=True)
class ManifestComparison:
    """Two tags' manifests side by side, as pulling `first` and then `second` sees them."""

    first: Manifest
    second: Manifest
    rows: tuple[LayerPair, ...]
    shared: tuple[ManifestLayer, ...]  # blobs of `second` that pulling `first` already fetched
    to_download: tuple[ManifestLayer, ...]  # the rest of `second`'s blobs, each digest once

    @property
    def shared_bytes(self) -> int:
        return sum(b.size for b in self.shared)

    @property
    def download_bytes(self) -> int:
        return sum(b.size for b in self.to_download)


def compare_manifests(first: Manifest, second: Manifest) -> ManifestComparison:
    """Which blobs the pull of `second` skips after `first`, and a per-layer table.

    ollama's downloadBlob skips a blob whose digest is already on disk, so `shared` is every
    blob (layers and config) of `second` whose digest `first` has; a digest listed twice is
    downloaded once. Rows pair identical digests first, then the remaining blobs of the same
    kind in order (the two weights files), then what is left alone; `first`'s order first.
    """
    seen = {b.digest for b in first.blobs}
    shared: list[ManifestLayer] = []
    to_download: list[ManifestLayer] = []
    counted: set[str] = set()
    for b in second.blobs:
        if b.digest in counted:
            continue
        counted.add(b.digest)
        (shared if b.digest in seen else to_download).append(b)

    left = list(second.blobs)
    pairs: list[tuple[ManifestLayer, ManifestLayer | None]] = []
    for a in first.blobs:
        match = next((b for b in left if b.digest == a.digest), None)
        if match is not None:
            left.remove(match)
        pairs.append((a, match))
    for i, (a, match) in enumerate(pairs):
        if match is None:
            same_kind = next((b for b in left if b.kind == a.kind), None)
            if same_kind is not None:
                left.remove(same_kind)
                pairs[i] = (a, same_kind)
    rows = [LayerPair(a.kind, a, b) for a, b in pairs if a is not None]
    rows += [LayerPair(b.kind, None, b) for b in left]
    return ManifestComparison(first, second, tuple(rows), tuple(shared), tuple(to_download))
