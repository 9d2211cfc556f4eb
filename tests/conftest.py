"""Test flags: `slow` and `cuda` tests (and notebook cells flagged `#| slow` / `#| cuda`) are skipped by default and
reported as skipped. Run them with `--run-slow` / on a machine with CUDA (or SKELNB_TEST_FLAGS="slow cuda").

No test writes into the project: a session whose tests changed a tracked file, or left a new file git does not
ignore, ends with an error listing them (`tree_unchanged`; in a git checkout of the project only)."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from skelnb.core import shared_data


ROOT = Path(__file__).resolve().parents[1]


def tree_state(root: Path = ROOT) -> tuple[str, str] | None:
    "`git status` of `root` (new files that git does not ignore included) and a digest of its changes to tracked files."
    git = lambda *args: subprocess.run(["git", *args], cwd=root, capture_output=True)  # noqa: E731
    try:
        top = git("rev-parse", "--show-toplevel")
    except OSError:  # no git
        return None
    if top.returncode or Path(top.stdout.decode().strip()).resolve() != Path(root).resolve():
        return None  # not a checkout of this project (an unpacked archive, or a folder inside another repository)
    status = git("status", "--porcelain", "--untracked-files=all").stdout.decode()
    return status, hashlib.sha256(git("diff", "HEAD", "--binary").stdout).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def tree_unchanged():
    "Fail the session if its tests changed the project's files; a test writes into a temporary folder instead."
    before = tree_state()
    yield
    after = tree_state()
    if before is not None and after != before:
        changed = sorted(set(after[0].splitlines()) ^ set(before[0].splitlines()))
        changed = changed or ["a file that differed from HEAD before the session changed again (see git diff)"]
        pytest.fail("the tests changed files of the project:\n" + "\n".join(changed), pytrace=False)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run tests and notebook cells flagged slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavy test, skipped unless --run-slow")
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU, skipped without one")


def enabled_flags(config) -> set:
    flags = set(os.environ.get("SKELNB_TEST_FLAGS", "").split())
    if config.getoption("--run-slow"):
        flags.add("slow")
    try:
        import torch

        if torch.cuda.is_available():
            flags.add("cuda")
    except ImportError:
        pass
    return flags


def pytest_collection_modifyitems(config, items):
    flags = enabled_flags(config)
    for item in items:
        for flag, why in (("slow", "slow: run with --run-slow"), ("cuda", "cuda: no CUDA GPU here")):
            if flag in item.keywords and flag not in flags:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture
def shared():
    "The shared real-data folder; the test skips visibly when it is absent."
    path = shared_data()
    if path is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    return path


def ucla_split(folder, actions=None, subjects=(1, 2, 3, 4), views=(1,), num_classes: int = 10):
    "`skelnb.data.samples.write_ucla_split`; the test skips visibly when the shared data is absent."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.data.samples import write_ucla_split
    from skelnb.data.ucla import UCLA_ACTION_IDS

    actions = UCLA_ACTION_IDS if actions is None else actions
    return write_ucla_split(folder, actions=actions, subjects=subjects, views=views, num_classes=num_classes)


@pytest.fixture(scope="session")
def ntu():
    "The 5 real NTU samples through HiCLR's pipeline, (5, 3, 50, 25, 2) float32; sample 1 (A058) has two persons."
    from skelnb.data.samples import ntu_sample_paths, ntu_samples

    if shared_data("ntu_samples") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    files = ntu_sample_paths()
    assert len(files) == 5 and "A058" in files[1].name
    return ntu_samples().x


# Tests of training steps share these: `pytestmark = pytest.mark.usefixtures("one_thread")` and the `batch` fixture.
@pytest.fixture(scope="module")
def one_thread():
    "One torch thread: the tiny models gain nothing from more, and a shared machine's busy cores slow OpenMP a lot."
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def batch():
    "3 real NW-UCLA sequences (3, 3, 50, 20, 2), joint stream; the test skips visibly when the shared data is absent."
    from skelnb.data.samples import ucla_samples

    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    return ucla_samples()


def run_two_processes(fn, folder) -> list:
    "Run `fn(rank, 2, port, folder)` in 2 processes (a free local port for gloo); what each saved in folder/rank<r>.pt."
    import socket

    import torch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(fn, args=(2, port, str(folder)), nprocs=2)
    return [torch.load(f"{folder}/rank{r}.pt") for r in range(2)]


@pytest.fixture(scope="session")
def ucla_prepared(tmp_path_factory):
    "The whole NW-UCLA, HiCLR's pipeline, prepared once a session: `xview/train` 1,020, `xview/val` 464 (view 3)."
    if shared_data("nw_ucla") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    from skelnb.data.prepare import prepare

    out = tmp_path_factory.mktemp("nw-ucla-prepared")
    prepare("nw-ucla", shared_data("nw_ucla"), out, pipeline="hiclr", workers=1, progress=False)
    return out / "nw-ucla-hiclr" / "xview"


# A short MoCo run (tests/test_train.py QUICKSTART): a narrow ST-GCN, queue 512, batch 64 (15 steps an epoch on
# NW-UCLA's 1,020 training sequences), 3 epochs: ~40-60 s on one shared core.
BRIEF_MOCO = dict(
    encoder="stgcn", encoder_hidden_channels=8, encoder_hidden_dim=32, encoder_dropout=0.0, batch_size=64,
    queue_size=512, dim=32, checkpoint_every=0, progress=False, epochs=3, lr=0.1, momentum=0.99,
)  # fmt: skip


@pytest.fixture(scope="session")
def briefly_pretrained(ucla_prepared, tmp_path_factory):
    """The session's one brief pretraining, shared by the checks that pretraining beats a random initialisation
    (kNN, linear, the trainer): MoCo with `BRIEF_MOCO` on the whole NW-UCLA xview training split. A namespace: `run`
    (the run folder), `initial` (the run's initial query encoder, built as the trainer builds it), `train` and `test`
    (the split folders), `settings` (the keyword arguments of `skelnb.train.train`)."""
    from types import SimpleNamespace

    import torch

    from skelnb.train import build_run, resolve, train

    out = tmp_path_factory.mktemp("briefly-pretrained") / "run"
    settings = BRIEF_MOCO | dict(method="moco", data=str(ucla_prepared / "train"), output=str(out))
    _, initial = build_run(*resolve(**settings), torch.device("cpu"))  # seeded as the trainer seeds its run
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tests' `one_thread`: a shared machine's busy cores slow OpenMP a lot
    try:
        train(**settings)
    finally:
        torch.set_num_threads(threads)
    folders = dict(train=ucla_prepared / "train", test=ucla_prepared / "val")
    return SimpleNamespace(run=out, initial=initial.encoder_q.eval(), settings=settings, **folders)


# The notebooks that tests/test_notebooks_plain.py runs only with --run-slow; tests/test_notebooks.py runs these
# with nbdev_test (every other notebook runs whole, its tests included, in a plain kernel: once in CI).
# Seconds each took in a plain kernel (one run of the whole set, 20 min in all, on a 2-core AMD EPYC virtual machine
# shared with other jobs, at nice 10, December 2026): the notebooks over 20 s, but for 24 and 43, whose Run All
# regressions (a rewritten picture, a CUDA-only cell) this test exists for. The rest: 42 notebooks, about 7 min there.
# After the units' tests moved into their notebooks, CI on an idle 2-core machine: these under nbdev_test 6-41 s each
# (62: 41 s, 32: 24 s, 42: 15 s), the slowest in a plain kernel 24 (48 s), 90 (21 s), 21 (14 s), 43 (13 s).
SLOW_NOTEBOOKS = {
    "32_encoders.bigru": 191,
    "61_evaluate.knn": 85,
    "31_encoders.dsta": 83,
    "42_methods.hiclr": 80,
    "64_evaluate.figures": 80,
    "30_encoders.stgcn": 61,
    "62_evaluate.linear": 43,
    "45_methods.cmd": 41,
    "50_train": 39,
    "60_evaluate.core": 37,
    "39_encoders": 34,
    "44_methods.hiclr_halp": 20,
}
