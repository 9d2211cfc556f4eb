"""Every ```python example of README.md runs as written, each in a fresh interpreter, from a folder laid out like the
project folder after `bash run.sh main` (NW-UCLA prepared into `prepared/`, here in a temporary folder)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from skelnb.core import shared_data

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def readme_examples() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_python_examples():
    assert readme_examples(), "README.md has no ```python block: the examples are gone or the fence changed"


@pytest.fixture(scope="module")
def project_like(tmp_path_factory):
    "A folder with `prepared/` as `bash run.sh main` leaves it (NW-UCLA, HiCLR pipeline)."
    raw = shared_data("nw_ucla")
    if raw is None:
        pytest.skip("README examples read prepared NW-UCLA; ../shared/data/nw_ucla is absent (set SKELNB_DATA)")
    folder = tmp_path_factory.mktemp("readme")
    cmd = [str(Path(sys.executable).parent / "skelnb"), "prepare", "nw-ucla", "--raw", str(raw), "--out", "prepared"]
    r = subprocess.run([*cmd, "--pipeline", "hiclr"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"preparing NW-UCLA as `bash run.sh main` does failed:\n{r.stdout}\n{r.stderr}"
    return folder


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_readme_example_runs(index, request):
    code = readme_examples()[index]
    cwd = request.getfixturevalue("project_like") if "prepared/" in code else request.getfixturevalue("tmp_path")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)
    first = code.strip().splitlines()[0]
    assert r.returncode == 0, f"README.md python example {index + 1} (starting {first!r}) failed:\n{r.stderr[-4000:]}"


# A link is a path relative to the page (the images and notebooks of README.md, the plans it points to).
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", ["README.md", "papermill_runs/README.md", "papermill_runs/plans/README.md"])
def test_relative_links_point_to_files(doc):
    "Every relative link of the page names a file or folder of the project (an anchor after `#` is not checked)."
    page = ROOT / doc
    targets = [t.split("#")[0] for t in LINK.findall(page.read_text(encoding="utf-8"))]
    broken = [
        t for t in targets if t and "://" not in t and not t.startswith("mailto:") and not (page.parent / t).exists()
    ]
    assert not broken, f"{doc} links to what is not there: {broken}"


def test_index_notebook_links_resolve_from_nbs():
    "nbs/index.ipynb's links are relative to nbs/, as JupyterLab resolves them (README.md gets them from the root)."
    import json

    cells = json.loads((ROOT / "nbs" / "index.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    targets = [t.split("#")[0] for t in LINK.findall(text)]
    broken = [t for t in targets if t and "://" not in t and not (ROOT / "nbs" / t).exists()]
    assert targets and not broken, f"nbs/index.ipynb links to what is not there (from nbs/): {broken}"


# Every README-like file is checked against the code: the plan keys it documents, the commands it shows and the
# entries its examples name.
DOCS = ["README.md", "papermill_runs/README.md", "papermill_runs/plans/README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def fenced(doc: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall((ROOT / doc).read_text(encoding="utf-8")) if lang == language]


def shell_commands(doc: str, program: str) -> list[list[str]]:
    "The `program ...` lines of the ```bash blocks of `doc` as tokens (lines joined, comments and redirections cut)."
    import shlex

    found = []
    for block in fenced(doc, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while tokens and "=" in tokens[0] and not tokens[0].startswith("-"):  # VAR=value before the command
                tokens = tokens[1:]
            if tokens and Path(tokens[0]).name == program:
                cut = next((i for i, t in enumerate(tokens) if t in (">", ">>", "|", "&&")), len(tokens))
                found.append(tokens[1:cut])
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_documented_skelnb_commands_parse_and_name_real_plans_and_entries(doc, tmp_path, monkeypatch, capsys):
    "Each `skelnb ...` line parses with the CLI; `run`/`report` name a plan and, with --only, its entries."
    from skelnb.cli import _parser, main
    from skelnb.experiments.plan import load_plan
    from skelnb.experiments.runner import select

    commands = shell_commands(doc, "skelnb")
    monkeypatch.chdir(tmp_path)  # a dry run or --print-commands writes nothing; nothing else is run here
    for tokens in commands:
        line = "skelnb " + " ".join(tokens)
        try:
            args, rest = _parser().parse_known_args(tokens)
        except SystemExit:
            pytest.fail(f"{doc}: `{line}` does not parse: {capsys.readouterr().err}")
        assert not rest or args.command == "pretrain", f"{doc}: `{line}`: unrecognized {rest}"
        if args.command in ("run", "report"):
            plan = load_plan(args.plan)
            only = [n for item in getattr(args, "only", None) or [] for n in item.split(",") if n]
            select(plan, only)  # an unknown entry fails here, naming it
        if args.command == "run" and (args.dry_run or args.print_commands):
            assert main(tokens) == 0, f"{doc}: `{line}` failed: {capsys.readouterr().err}"


@pytest.mark.parametrize("doc", DOCS)
def test_documented_papermill_commands_name_notebook_parameters(doc):
    "Each `papermill NOTEBOOK ...` line runs a notebook of nbs/experiments with parameters its parameters cell has."
    import yaml

    from skelnb.experiments.plan import notebook_parameters

    for tokens in shell_commands(doc, "papermill"):
        notebook = Path(tokens[0])
        assert (ROOT / notebook).exists() and notebook.parent == Path("nbs/experiments"), f"{doc}: {tokens[0]}"
        names = [tokens[i + 1] for i, t in enumerate(tokens) if t in ("-p", "-r")]
        names += [k for i, t in enumerate(tokens) if t == "-y" for k in yaml.safe_load(tokens[i + 1])]
        own = notebook_parameters(notebook.stem)
        assert set(names) <= set(own), f"{doc}: {notebook.stem} has no parameter {sorted(set(names) - set(own))}"


def test_plans_readme_documents_every_plan_key_and_only_those():
    "The format example of papermill_runs/plans/README.md uses every key the plan reader accepts and no other."
    import yaml

    from skelnb.experiments.plan import ENTRY_KEYS, PAPER_KEYS, PLAN_KEYS, load_plan, notebook_parameters

    (example,) = [yaml.safe_load(b) for b in fenced("papermill_runs/plans/README.md", "yaml")]
    assert set(example) == PLAN_KEYS, f"documented {sorted(example)}, the reader has {sorted(PLAN_KEYS)}"
    entries = example["runs"]
    assert set().union(*map(set, entries)) == ENTRY_KEYS, sorted(set().union(*map(set, entries)) ^ ENTRY_KEYS)
    plan = load_plan(example["plan"])  # the example is taken from a real plan: its entries are that plan's
    for e in entries:
        assert set(e.get("paper") or PAPER_KEYS) == PAPER_KEYS, e["name"]
        assert set(e.get("parameters", {})) <= set(notebook_parameters(e["notebook"])), e["name"]
        real = plan.entry(plan.expansions(e["name"])[0])
        assert real.notebook == e["notebook"] and set(e.get("after", [])) <= {a.split("@")[0] for a in real.after}
        if e.get("paper"):
            assert e["paper"] == real.paper, (e["paper"], real.paper)
    assert set(example["defaults"]) - {"seeds"} <= set().union(
        *(notebook_parameters(n) for n in ("pretrain", "evaluate"))
    )


def test_plan_descriptions_name_what_their_plans_hold():
    "In the plans README's list of plans, each backticked `defaults.KEY`, `&anchor` or single `key: value` is in it."
    import yaml

    text = (ROOT / "papermill_runs" / "plans" / "README.md").read_text(encoding="utf-8")
    bullets = re.findall(r"^- \*\*([\w-]+)\*\*(.*?)(?=^- |^$)", text, re.M | re.S)
    assert {name for name, _ in bullets} >= {"quickstart", "hiclr-table1"}, "the list of plans is gone"

    def pairs(tree):
        if isinstance(tree, dict):
            for k, v in tree.items():
                yield k, v
                yield from pairs(v)
        elif isinstance(tree, list):
            for v in tree:
                yield from pairs(v)

    for name, body in bullets:
        source = (ROOT / "papermill_runs" / "plans" / f"{name}.yaml").read_text()
        plan = yaml.safe_load(source)
        for token in re.findall(r"`([^`]+)`", body):
            if token.startswith("defaults."):
                assert token.split(".", 1)[1] in plan.get("defaults", {}), f"{name}: {token} is not in the plan"
            elif token.startswith("&"):
                assert f"{token} " in source or f"{token}\n" in source, f"{name}: no anchor {token}"
            elif re.fullmatch(r"\w+: .+", token) and len(pair := yaml.safe_load("{" + token + "}")) == 1:
                assert next(iter(pair.items())) in list(pairs(plan)), f"{name}: the plan has no {token}"


def test_documented_skelnb_commands_run_offline(tmp_path, monkeypatch, capsys):
    """Every `skelnb run` line of papermill_runs/README.md runs as a dry run (as written when it is one, else with
    --dry-run added) and every `skelnb report` line runs, from an empty folder: plans, entries (NAME@sN included)
    and options as documented work, with nothing to run yet."""
    from skelnb.cli import main

    commands = [t for t in shell_commands("papermill_runs/README.md", "skelnb") if t and t[0] in ("run", "report")]
    assert any("--only" in t for t in commands), "papermill_runs/README.md no longer shows --only"
    monkeypatch.chdir(tmp_path)
    for tokens in commands:
        dry = (
            tokens
            if tokens[0] == "report" or {"--dry-run", "--print-commands"} & set(tokens)
            else tokens + ["--dry-run"]
        )
        code = main(dry)
        out = capsys.readouterr()
        assert code == 0, f"`skelnb {' '.join(dry)}` failed ({code}):\n{out.err[-3000:]}"
        if "--only" in tokens:
            only = tokens[tokens.index("--only") + 1 :]
            listed = [line.split(":")[0] for line in out.out.splitlines() if ": would run" in line]
            assert set(listed) == set(only), f"`skelnb {' '.join(dry)}` would run {listed}, the README says {only}"


@pytest.fixture(scope="module")
def documented_project(tmp_path_factory):
    "An empty project folder with `../shared` beside it, as the papermill lines of papermill_runs/README.md expect."
    if shared_data("nw_ucla") is None:
        pytest.skip("papermill_runs/README.md's papermill lines read ../shared/data/nw_ucla (set SKELNB_DATA)")
    folder = tmp_path_factory.mktemp("documented") / "project"
    folder.mkdir()
    (folder.parent / "shared").symlink_to(shared_data().parent, target_is_directory=True)
    return folder


def test_documented_papermill_commands_run(documented_project):
    "Each `papermill` (and `mkdir -p`) line of papermill_runs/README.md runs as written, in order, in a new project."
    import os
    import shlex

    blocks = fenced("papermill_runs/README.md", "bash")
    lines = [
        line
        for b in blocks
        for line in b.replace("\\\n", " ").splitlines()
        if line.startswith(("papermill ", "mkdir "))
    ]
    assert sum(line.startswith("papermill ") for line in lines) >= 2, lines
    env = dict(os.environ, PWD=str(documented_project), OMP_NUM_THREADS="1")
    for line in lines:
        if line.startswith("mkdir -p "):
            for folder in shlex.split(line, comments=True)[2:]:
                (documented_project / folder).mkdir(parents=True, exist_ok=True)
            continue
        tokens = shlex.split(line.replace('"$PWD"', str(documented_project)))
        tokens[1] = str(ROOT / tokens[1])  # the notebook, given relative to the project root
        cmd = [str(Path(sys.executable).parent / "papermill"), *tokens[1:], "-k", "python3"]
        r = subprocess.run(cmd, cwd=documented_project, capture_output=True, text=True, timeout=900, env=env)
        assert r.returncode == 0, f"papermill_runs/README.md: `{line[:100]}` failed:\n{r.stderr[-4000:]}"
