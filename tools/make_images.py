"""Regenerate the documentation images of nbs/images/ that code draws. Running a notebook never rewrites them: the
rendering differs a little between machines (fonts, antialiasing), and reading must change no tracked file.
    python tools/make_images.py          rewrite the images whose bytes differ from what is drawn here, list them
    python tools/make_images.py --check  list those that differ (exit 1 if any), change nothing"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "nbs" / "images"


def augment_inspector() -> bytes:
    "nbs/24_augment.inspector.ipynb: the HiCLR v1 view of the two-person NTU sample, seed 0, frame 25."
    from skelnb.augment.inspector import documentation_inspector, figure_png

    return figure_png(documentation_inspector().figure, dpi=64)


DRAWN = {"augment_inspector.png": augment_inspector}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    differ = []
    for name, draw in DRAWN.items():
        png, path = draw(), IMAGES / name
        if path.exists() and path.read_bytes() == png:
            print(f"{path.relative_to(ROOT)}: unchanged")
            continue
        differ.append(name)
        if not check:
            path.write_bytes(png)
        print(f"{path.relative_to(ROOT)}: {'differs' if check else 'written'} ({len(png) / 1024:.0f} KB)")
    return 1 if check and differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
