"""README.md is generated from nbs/index.ipynb (nbdev's own readme export needs Quarto, which is not used here).
Markdown cells are copied with their relative links (to images, notebooks, plans) rewritten from the notebook's
folder, as JupyterLab resolves them, to the repository root, as README.md's readers resolve them; code cells that are
not hidden become ```python blocks.
    python tools/sync_readme.py          write README.md
    python tools/sync_readme.py --check  exit 1 when README.md differs from the notebook"""

import json
import posixpath
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by tools/sync_readme.py: edit the notebook, then run that script. -->\n\n"
HIDDEN = re.compile(r"^#\|\s*(hide|export|exporti|default_exp)\b", re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def from_root(target: str) -> str:
    "A link `target` of nbs/index.ipynb (relative to nbs/) as seen from the repository root; others as they are."
    if "://" in target or target.startswith(("#", "/", "mailto:")):
        return target
    return posixpath.normpath(posixpath.join("nbs", target))


def render(nb_path: Path = ROOT / "nbs" / "index.ipynb") -> str:
    parts = []
    for cell in json.loads(nb_path.read_text())["cells"]:
        src = "".join(cell["source"]).strip()
        if not src:
            continue
        if cell["cell_type"] == "markdown":
            parts.append(LINK.sub(lambda m: f"]({from_root(m.group(1))})", src))
        elif cell["cell_type"] == "code" and not HIDDEN.search(src):
            parts.append(f"```python\n{src}\n```")
    return HEADER + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print("README.md is out of sync with nbs/index.ipynb: run python tools/sync_readme.py")
            sys.exit(1)
    else:
        readme.write_text(text)
