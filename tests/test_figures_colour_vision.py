"""Colours stay apart for readers with deuteranopia, protanopia and tritanopia (issue 18).

Simulation: Machado, Oliveira and Fernandes 2009 ("A physiologically-based model for simulation
of color vision deficiency", IEEE TVCG 15(6)), at severity 1.0 (the -anopias), as colorspacious
implements it; distances are CAM02-UCS ΔE (Luo et al. 2006), lightness its J'. What is checked:

* every categorical palette the figures use keeps each pair of colours at least MIN_PAIR apart,
  with normal vision and under each simulation;
* every colour scale a figure draws is, under each simulation, either sequential (lightness
  monotone end to end) or diverging (lightness rising to one light middle, then falling, with
  the two arms apart at equal distance from the middle); a stepped scale is a palette;
* in every figure, two legend entries that share a look apart from colour have colours at least
  MIN_PAIR apart under each simulation: otherwise they must differ in marker, dash or pattern.

`python tests/test_figures_colour_vision.py` prints the palettes' smallest distances.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import colorspacious as cs
import numpy as np
import pytest
from figure_samples import SAMPLES
from plot_contrast import rgba
from plotly.colors import get_colorscale

from quantviz.figures import _base, board, ollama, schemes, weights

DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")  # at severity 100: -anopia
VISIONS = (None, *DEFICIENCIES)
MIN_PAIR = 10.0  # ΔE: Okabe-Ito's closest pair is 11.0 (tritanopia); Tableau 10's 1.4
MIN_ARMS = 10.0  # ΔE between a diverging scale's two arms at the same distance from the middle
# Machado et al. 2009, table: severity 1.0, applied to linear RGB.
MACHADO = {
    "protanomaly": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                    [-0.003882, -0.048116, 1.051998]],
    "deuteranomaly": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                      [-0.011820, 0.042940, 0.968881]],
    "tritanomaly": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                    [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


def _rgb(color: str) -> np.ndarray:
    return np.array(rgba(color)[:3])


def simulate(rgb: np.ndarray, vision: str | None) -> np.ndarray:
    if vision is None:
        return rgb
    cvd = {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}
    return np.clip(cs.cspace_convert(rgb, cvd, "sRGB1"), 0, 1)


def distance(a: np.ndarray, b: np.ndarray, vision: str | None) -> float:
    return float(cs.deltaE(simulate(a, vision), simulate(b, vision), input_space="sRGB1"))


def lightness(rgb: np.ndarray, vision: str | None) -> float:
    return float(cs.cspace_convert(simulate(rgb, vision), "sRGB1", "CAM02-UCS")[0])


def closest_pair(colors: Sequence[str], vision: str | None) -> tuple[float, str, str]:
    return min(
        (distance(_rgb(a), _rgb(b), vision), a, b) for a, b in itertools.combinations(colors, 2)
    )


PALETTES: dict[str, Sequence[str]] = {
    "categorical classes (Okabe-Ito)": _base.CATEGORICAL,
    "class board: Q4, Q6, your point": [*board.COLORS.values(), str(board.OWN["color"])],
    "class board: decisions": list(board.DECISION_COLORS.values()),
    "real weights: bars, outliers, range": [
        weights.BAR_COLOR,
        weights.OUTLIER_COLOR,
        weights.RANGE_COLOR,
    ],
    "storage: size, nominal": [ollama.SIZE_COLOR, ollama.NOMINAL_COLOR],
    "float fields: sign, exponent, mantissa": list(schemes.FIELD_COLORS.values()),
}


def test_the_simulation_is_machado_2009():
    """colorspacious's simulation equals the paper's severity-1.0 matrices on linear RGB."""
    for vision, matrix in MACHADO.items():
        for color in ([0.8, 0.3, 0.1], [0.1, 0.6, 0.9], [0.95, 0.9, 0.2]):
            rgb = np.array(color)
            simulated = cs.cspace_convert(simulate(rgb, vision), "sRGB1", "sRGB1-linear")
            linear = cs.cspace_convert(rgb, "sRGB1", "sRGB1-linear")
            expected = np.clip(np.array(matrix) @ linear, 0, 1)  # simulate() clips to the gamut
            np.testing.assert_allclose(np.clip(simulated, 0, 1), expected, atol=2e-3)


def test_the_palette_check_can_fail():
    """Tableau 10's red and green, which the app used before, collapse under deuteranopia."""
    assert distance(_rgb("#e45756"), _rgb("#54a24b"), "deuteranomaly") < 2
    assert distance(_rgb("#e45756"), _rgb("#54a24b"), None) > 30


@pytest.mark.parametrize("name", sorted(PALETTES))
@pytest.mark.parametrize("vision", VISIONS, ids=lambda v: v or "normal")
def test_categorical_palettes_keep_every_pair_apart(name, vision):
    """The closest two colours of each palette stay at least MIN_PAIR apart."""
    gap, a, b = closest_pair(PALETTES[name], vision)
    assert gap >= MIN_PAIR, f"{a} and {b}: ΔE {gap:.1f}"


def _scales(spec: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Every colour scale a figure spec draws with: heatmaps' own and colour axes'."""
    layout = spec["layout"]
    for i, t in enumerate(spec["data"]):
        if t.get("type") != "heatmap":
            continue
        scale = t.get("colorscale") or layout.get(t.get("coloraxis") or "coloraxis", {}).get(
            "colorscale"
        )
        if isinstance(scale, str):
            scale = get_colorscale(scale)
        assert scale, f"heatmap {i} has no colour scale of its own: the theme's would be used"
        yield f"trace {i} ({t.get('name', 'heatmap')})", [list(s) for s in scale]


def _sample(scale: list[Any], n: int = 33) -> list[np.ndarray]:
    at = np.array([float(s[0]) for s in scale])
    cols = np.array([_rgb(str(s[1])) for s in scale])
    xs = np.linspace(0, 1, n)
    return [np.array([np.interp(x, at, cols[:, k]) for k in range(3)]) for x in xs]


def scale_problems(scale: list[Any]) -> list[str]:
    """Why a colour scale is neither sequential nor diverging for some reader ([] if fine)."""
    positions = [float(s[0]) for s in scale]
    if len(set(positions)) < len(positions):  # stepped: a categorical palette
        colors = list(dict.fromkeys(str(s[1]) for s in scale))
        return [
            f"{vision or 'normal'}: {a} and {b} ΔE {gap:.1f}"
            for vision in VISIONS
            for gap, a, b in [closest_pair(colors, vision)]
            if gap < MIN_PAIR
        ]
    found = []
    samples = _sample(scale)
    for vision in VISIONS:
        j = np.array([lightness(c, vision) for c in samples])
        steps = np.diff(j)
        if np.all(steps >= -0.5) or np.all(steps <= 0.5):
            continue  # sequential
        top = int(np.argmax(j))
        rising, falling = np.diff(j[: top + 1]), np.diff(j[top:])
        if not (np.all(rising >= -0.5) and np.all(falling <= 0.5) and 0.35 <= top / 32 <= 0.65):
            found.append(f"{vision or 'normal'}: lightness neither monotone nor one-peaked")
            continue
        arms = min(distance(samples[k], samples[-1 - k], vision) for k in range(12))
        if arms < MIN_ARMS:
            found.append(f"{vision or 'normal'}: the two arms come within ΔE {arms:.1f}")
    return found


def test_the_scale_check_can_fail():
    """A rainbow (jet) fails, a red-to-green map fails for deuteranopia, cividis passes."""
    assert scale_problems(get_colorscale("Jet"))
    assert any("deuteranomaly" in p for p in scale_problems(get_colorscale("RdYlGn")))
    assert scale_problems(get_colorscale("cividis")) == []


def _legend_looks(spec: dict[str, Any]) -> list[tuple[str, str | None, tuple[Any, ...]]]:
    """(name, colour, everything else that tells it apart) per legend entry."""
    entries, groups = [], set()
    if spec["layout"].get("showlegend") is False:
        return []
    for t in spec["data"]:
        if t.get("showlegend") is False or t.get("type") == "heatmap":
            continue
        group = t.get("legendgroup")
        if group is not None and group in groups:
            continue
        groups.add(group)
        kind = t.get("type", "scatter")
        marker, line = t.get("marker", {}), t.get("line", {})
        color = marker.get("color") if kind == "bar" or "markers" in t.get("mode", "") else None
        color = color or line.get("color") or marker.get("color")
        shape = (kind, t.get("mode"), marker.get("symbol"), line.get("dash"),
                 (marker.get("pattern") or {}).get("shape"))  # fmt: skip
        entries.append((str(t.get("name")), color if isinstance(color, str) else None, shape))
    return entries


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_figures_never_tell_classes_apart_by_colour_alone(name):
    """Legend entries that look alike but for colour are far apart in colour for every reader;
    and every colour scale is sequential or diverging for every reader."""
    found = []
    for fig in SAMPLES[name]():
        spec = fig.to_dict()
        for where, scale in _scales(spec):
            found += [f"{where}: {p}" for p in scale_problems(scale)]
        for (a, ca, sa), (b, cb, sb) in itertools.combinations(_legend_looks(spec), 2):
            if sa != sb or ca is None or cb is None:
                continue
            for vision in VISIONS:
                gap = distance(_rgb(ca), _rgb(cb), vision)
                if gap < MIN_PAIR:
                    found.append(f"{a!r} / {b!r}: colour only, ΔE {gap:.1f} ({vision or 'normal'})")
    assert found == []


if __name__ == "__main__":
    print("| palette | normal | deuteranopia | protanopia | tritanopia |")
    print("| --- | --- | --- | --- | --- |")
    for name, colors in PALETTES.items():
        cells = [f"{closest_pair(colors, v)[0]:.1f}" for v in VISIONS]
        print(f"| {name} | " + " | ".join(cells) + " |")
