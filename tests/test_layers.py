"""The package's layers run one way: no module imports from a layer above its own.

core, layouts, batch, graph (bottom) -> data (with skelnb.streams) -> augment | encoders (siblings, neither imports
the other) -> methods (with skelnb.losses) -> train -> evaluate -> experiments -> cli; testing on top. Every import is
read with `ast` from the exported modules, including imports inside functions, relative and absolute ones.
skelnb.testing (the shared test oracles) is imported by no module of the package.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skelnb"

LAYERS = {
    "": 0,  # skelnb/__init__.py: the version only
    "_modidx": 0,
    "core": 0,
    "layouts": 0,
    "batch": 0,
    "graph": 0,
    "testing": 8,  # test oracles: they restate what any layer computes (HiCLR's views); imported by no module
    "data": 1,
    "streams": 1,
    "augment": 2,
    "encoders": 2,
    "losses": 3,  # the methods' loss functions
    "methods": 3,
    "checkpoint": 4,  # the checkpoint file (the trainer writes it, evaluate reads it)
    "distributed": 4,  # process setup, all-reduces, SyncBatchNorm on CPU
    "train": 4,
    "evaluate": 5,
    "experiments": 6,
    "cli": 7,
}
SIBLINGS = {"augment", "encoders"}  # same layer, but neither may import the other
BENEATH = {"checkpoint": {"train"}, "distributed": {"train", "checkpoint"}}  # within layer 4: what they may not import


def module_name(path: Path) -> str:
    "`skelnb/augment/hiclr.py` -> 'skelnb.augment.hiclr'; a package's `__init__.py` -> the package."
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    "The top-level part of skelnb a module belongs to: 'skelnb.data.ntu' -> 'data', 'skelnb' -> ''."
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int:
    name = part(module)
    if name not in LAYERS:
        raise AssertionError(f"{module} belongs to no layer: add {name!r} to LAYERS in tests/test_layers.py")
    return LAYERS[name]


def imported_modules(source: str, module: str, is_package: bool):
    "(line, text, imported skelnb module) for every import of skelnb in `source`, at any depth."
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skelnb":
                    yield node.lineno, ast.unparse(node), alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "skelnb":
                continue
            if target == "skelnb" or (node.level and not node.module):  # `from . import halp`: the names may be modules
                for alias in node.names:
                    yield node.lineno, ast.unparse(node), f"{target}.{alias.name}"
            else:
                yield node.lineno, ast.unparse(node), target


def violations(source: str, module: str, is_package: bool, where: str) -> list[str]:
    "Each import of `source` that points up a layer or across the augment/encoders siblings, as a readable line."
    out = []
    for line, text, target in imported_modules(source, module, is_package):
        if target.split(".")[:2] == ["skelnb", "_modidx"] or target in ("skelnb",):
            continue
        src, dst = part(module), part(target)
        if layer(target) > layer(module):
            out.append(
                f"{where}:{line}: {module} (layer {src or 'skelnb'}) imports {target} from a layer above: {text}"
            )
        elif src in SIBLINGS and dst in SIBLINGS and src != dst:
            out.append(f"{where}:{line}: {module} imports its sibling layer {dst}: {text}")
        elif dst in BENEATH.get(src, ()):
            out.append(f"{where}:{line}: {module} imports {target}, which builds on it: {text}")
    return out


def package_modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    for path in package_modules():
        layer(module_name(path))


def test_no_module_imports_the_test_oracles():
    "skelnb.testing serves the notebooks' checks and tests/; the package runs without it."
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
        for path in package_modules()
        if path.name != "testing.py"
        for line, text, target in imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")
        if target == "skelnb.testing"
    ]
    assert not found, "modules importing skelnb.testing:\n" + "\n".join(found)


def test_no_import_points_up():
    found = []
    for path in package_modules():
        name = module_name(path)
        where = str(path.relative_to(PACKAGE.parent))
        found += violations(path.read_text(), name, path.name == "__init__.py", where)
    assert not found, "imports against the layers:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "module, source, expected",
    [
        ("skelnb.encoders.stgcn", "from ..augment.hiclr import DropAddEdges", "imports its sibling layer augment"),
        ("skelnb.augment.base", "def f():\n    import skelnb.encoders.bigru", "imports its sibling layer encoders"),
        ("skelnb.data.store", "from skelnb.augment import Compose", "from a layer above"),
        ("skelnb.graph", "from .data import ntu", "from a layer above"),
        ("skelnb.layouts", "from skelnb import streams", "from a layer above"),
        ("skelnb.streams", "def f():\n    from .cli import main", "from a layer above"),
        ("skelnb.checkpoint", "from .train import Run", "which builds on it"),
    ],
)
def test_a_back_edge_is_reported(module, source, expected):
    "The check finds back-edges written every way: relative, absolute, inside functions, `from skelnb import x`."
    (message,) = violations(source, module, False, "x.py")
    assert expected in message and module in message and "x.py:" in message


@pytest.mark.parametrize(
    "module, source",
    [
        ("skelnb.encoders.stgcn", "from ..graph import DropAddEdges"),
        ("skelnb.encoders.bigru", "from skelnb.batch import to_sequence"),
        ("skelnb.augment.inspector", "from . import halp, hiclr"),
        ("skelnb.augment.growing", "from ..streams import to_stream"),
        ("skelnb.cli", "from skelnb.data.prepare import prepare"),
        ("skelnb.data.store", "import numpy as np\nfrom .ntu import read_ntu_skeleton"),
    ],
)
def test_downward_imports_pass(module, source):
    assert violations(source, module, False, "x.py") == []
