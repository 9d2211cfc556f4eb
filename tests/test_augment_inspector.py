"""skelnb.augment.inspector driven headlessly: set widget values, click redraw, check what is shown (`.current`).

Matplotlib runs on the Agg backend; the inspector draws with `matplotlib.figure.Figure`, keeps the last figure in
`.figure` and sets what its output area shows in `.out.outputs`, so nothing needs a display or a kernel.
"""

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from skelnb.augment import hiclr
from skelnb.augment.growing import GrowingAugmentation
from skelnb.augment.inspector import (
    AugmentationInspector,
    GrowingView,
    catalogue,
    default_sources,
    draw_parameters,
    figure_png,
    flatten_params,
    pick_columns,
    skeleton_limits,
)
from skelnb.core import project_root, shared_data
from skelnb.layouts import NTU25, NW_UCLA

TWO = "S001C003P008R002A058"  # the NTU sample with two persons
OTHER = "S002C001P003R001A003"


@pytest.fixture(scope="module")
def sources():
    if shared_data("ntu_samples") is None or shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data absent")
    return default_sources()


@pytest.fixture
def insp(sources):
    return AugmentationInspector(sources, augmentation="Rotate", sample=TWO, draws=300)


def redraw(insp, **values):
    "Set widget values in the order given, then click the redraw button."
    for name, value in values.items():
        getattr(insp, name).value = value
    insp.redraw.click()
    return insp.current


def test_shown_sample_is_the_library_augmentation(sources, insp):
    c = insp.current
    assert c["error"] is None and c["sample"] == TWO and c["augmentation"] == "Rotate"
    np.testing.assert_array_equal(c["original"], sources["NTU samples"].load(TWO))
    expected = hiclr.Rotate()(sources["NTU samples"].batch(TWO), torch.Generator().manual_seed(0))[0]
    np.testing.assert_array_equal(c["augmented"], expected.numpy())
    assert set(c["params"]) == {"main_axis", "degrees[0]", "degrees[1]", "degrees[2]"}
    assert len(c["draws"]) == 300 and c["draws"]["degrees[0]"].between(0, 30).all()
    assert insp.figure is not None and len(insp.figure.axes) >= 3


def test_seed_changes_the_draw_and_repeats_it(insp):
    first = insp.current["augmented"].copy()
    assert not np.array_equal(redraw(insp, seed=1)["augmented"], first)
    np.testing.assert_array_equal(redraw(insp, seed=0)["augmented"], first)
    np.testing.assert_array_equal(redraw(insp)["augmented"], first)  # redraw alone: same seed, same draw


def test_shear_strength_zero_is_the_identity(insp):
    c = redraw(insp, augmentation="Shear")
    assert insp.strength.value == 0.5 and (insp.strength.min, insp.strength.max) == (0.0, 1.0)
    assert not np.array_equal(c["augmented"], c["original"])
    c = redraw(insp, strength=0.0)
    np.testing.assert_array_equal(c["augmented"], c["original"])
    assert c["strength"] == 0.0 and np.all(c["draws"]["a[0]"] == 0)


def test_strength_follows_the_augmentation(insp):
    c = redraw(insp, augmentation="Rotate", strength=90.0)
    assert c["draws"]["degrees[0]"].max() > 30  # wider than the default 30°
    redraw(insp, augmentation="HiCLR NA")
    assert insp.strength.disabled and insp.current["strength"] is None
    redraw(insp, augmentation="Gaussian noise")
    assert not insp.strength.disabled and insp.strength.value == 0.01


def test_frame_changes_only_the_frame(insp):
    before = insp.current["augmented"].copy()
    insp.frame.value = 33
    assert (insp.current["frame"], insp.current["augmented_frame"]) == (33, 33)
    np.testing.assert_array_equal(insp.current["augmented"], before)
    redraw(insp, frame=7)
    assert insp.current["frame"] == 7 and insp.frame.max == 49 == insp.play.max
    assert "frame 7" in insp.figure.axes[0].get_title()


def test_switching_sample_changes_the_original(sources, insp):
    before = insp.current["original"].copy()
    c = redraw(insp, sample=OTHER)
    assert c["sample"] == OTHER and not np.array_equal(c["original"], before)
    np.testing.assert_array_equal(c["original"], sources["NTU samples"].load(OTHER))


def test_nw_ucla_by_name(sources, insp):
    c = redraw(insp, dataset="NW-UCLA", sample="a06_s03_e02_v02")
    assert c["original"].shape == (3, 50, 20, 2) and c["layout"] == NW_UCLA
    assert np.abs(c["original"][..., 1]).max() == 0 and np.abs(c["augmented"][..., 1]).max() == 0
    assert len(insp.sample.options) == 1484
    c = redraw(insp, augmentation="Spatial flip", strength=1.0)
    np.testing.assert_array_equal(c["augmented"], c["original"][:, :, NW_UCLA.flip_permutation])


def test_growing_views_and_bad_specs(sources, insp):
    c = redraw(insp, augmentation="growing: v2", seed=4)
    with torch.no_grad():
        v = GrowingAugmentation()(sources["NTU samples"].batch(TWO), torch.Generator().manual_seed(4))
    np.testing.assert_array_equal(c["augmented"], v.views[2][0].numpy())
    assert "BA.Shear.a[0]" in c["draws"] and "NA.GaussianBlur.sigma" in c["draws"]
    c = redraw(insp, spec="BA|NA+Mask")
    assert "no v2" in c["error"] and "no v2" in insp.info.value
    c = redraw(insp, spec="BA|NA|Musk")
    assert "unknown augmentation" in c["error"]
    c = redraw(insp, spec="Mask|BA|NA", augmentation="growing: key")
    assert c["error"] is None and "Mask" in repr(c["augmenter"])


def shown_png(insp) -> bytes:
    "The PNG the output area shows; it must hold exactly one image."
    outputs = insp.out.outputs
    assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data", outputs
    return base64.b64decode(outputs[0]["data"]["image/png"])


def test_output_area_shows_the_current_figure(insp):
    png = shown_png(insp)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == figure_png(insp.figure)
    redraw(insp, seed=3)
    assert shown_png(insp) == figure_png(insp.figure) != png  # replaced, not appended


def test_invalid_parameter_shows_only_the_error(insp):
    redraw(insp, augmentation="growing: v2")
    assert insp.figure is not None and len(shown_png(insp)) > 1000
    c = redraw(insp, spec="BA|NA+Mask")  # k = 2: there is no v2
    assert "no v2" in c["error"] and "no v2" in insp.info.value
    assert insp.figure is None and insp.out.outputs == (), "the previous figure stays under the error"
    c = redraw(insp, spec="BA|NA|<Musk>")  # the error is shown as text, not as HTML
    assert "unknown augmentation" in c["error"] and "&lt;Musk&gt;" in insp.info.value and insp.out.outputs == ()
    c = redraw(insp, spec="BA|NA|Mask")
    assert c["error"] is None and shown_png(insp) == figure_png(insp.figure)


def test_instances_are_independent(sources):
    shown = AugmentationInspector(sources, augmentation="Rotate", sample=TWO, draws=100)
    before, png = shown.current["augmented"].copy(), shown_png(shown)
    driven = AugmentationInspector(sources, augmentation="Rotate", sample=TWO, draws=100)
    redraw(driven, seed=5, augmentation="Shear", sample=OTHER, frame=20)
    redraw(driven, spec="BA|NA+Mask", augmentation="growing: v2")
    assert (shown.current["sample"], shown.current["augmentation"], shown.current["seed"]) == (TWO, "Rotate", 0)
    np.testing.assert_array_equal(shown.current["augmented"], before)
    assert shown_png(shown) == png and shown.frame.value == 0


def test_notebook_drives_another_instance_than_it_displays():
    "After Run All, the inspector displayed in 24_augment.inspector still shows what its own cell asked for."
    cells = json.loads((project_root() / "nbs" / "24_augment.inspector.ipynb").read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    shown = [i for i, s in enumerate(code) if s.rstrip().endswith("insp.widget")]
    assert len(shown) == 1, "the notebook should display one inspector, `insp`, with `insp.widget`"
    drives = re.compile(r"\binsp\.(\w+\.value\s*=[^=]|redraw\.click|update\(|\w+\s*=[^=])|^insp\s*=[^=]", re.M)
    later = [m.group(0) for s in code[shown[0] + 1 :] for m in drives.finditer(s)]
    assert not later, f"cells after the displayed inspector change it (drive another instance): {later}"


@pytest.mark.parametrize("name", list(catalogue()))
def test_every_catalogue_entry_renders(sources, name):
    insp = AugmentationInspector(sources, augmentation=name, sample=TWO, draws=100)
    c = insp.current
    assert c["error"] is None, c["error"]
    assert c["augmented"].shape[0] == 3 and np.isfinite(c["augmented"]).all()
    assert len(figure_png(insp.figure)) > 1000


def test_flatten_and_draw_parameters(sources):
    x = sources["NTU samples"].batch(TWO)
    ba = hiclr.basic_augmentation()
    _, p = ba(x, torch.Generator().manual_seed(0), return_params=True)
    flat = flatten_params(ba, p, 5)
    assert sorted(flat) == [
        "Shear.a[0]",
        "Shear.a[1]",
        "Shear.a[2]",
        "Shear.b[0]",
        "Shear.b[1]",
        "Shear.b[2]",
        "TemporalCrop.start",
    ]
    np.testing.assert_array_equal(flat["TemporalCrop.start"], p[0]["start"].numpy())
    view = GrowingView(GrowingAugmentation(), 2)
    df = draw_parameters(view, x[0], draws=500, seed=1)
    assert len(df) == 500 and not any(c.startswith("Mask") for c in df.columns)  # the batch mask is not per sample
    assert df["BA.TemporalCrop.start"].between(0, 16).all() and set(df["NA.SpatialFlip.apply"].unique()) == {0, 1}
    assert abs(df["NA.SpatialFlip.apply"].mean() - 0.5) < 0.1
    again = draw_parameters(view, x[0], draws=500, seed=1)
    assert df.equals(again)
    cols = pick_columns(df, 7)
    assert len({c.rsplit(".", 1)[0] for c in cols}) == 7  # one per primitive of BA+NA
    assert skeleton_limits(x[0].numpy()).shape == (3, 2)


def test_static_image_is_small():
    path = project_root() / "nbs" / "images" / "augment_inspector.png"
    if not path.exists():
        pytest.skip("run nbs/24_augment.inspector.ipynb to write the static image")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size < 200_000
