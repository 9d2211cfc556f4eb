"""skelnb.augment.inspector: what stays here (the widget and state checks are in nbs/24_augment.inspector.ipynb).

Every catalogue entry through a whole inspector (a long real-data run: about 15 s on one core), and two checks of
repository files: the notebook's own cells (the displayed inspector is not driven after it is shown) and the
tracked static image. Matplotlib runs on the Agg backend; nothing needs a display or a kernel.
"""

import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from skelnb.augment.inspector import AugmentationInspector, catalogue, default_sources, figure_png
from skelnb.core import project_root, shared_data

TWO = "S001C003P008R002A058"  # the NTU sample with two persons


@pytest.fixture(scope="module")
def sources():
    if shared_data("ntu_samples") is None or shared_data("nw_ucla", "all_sqe") is None:
        pytest.skip("shared data absent")
    return default_sources()


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


def test_static_image_is_small():
    path = project_root() / "nbs" / "images" / "augment_inspector.png"
    if not path.exists():
        pytest.skip("run tools/make_images.py to write the static image")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size < 200_000
