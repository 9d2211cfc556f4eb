"""Test flags: `slow` and `cuda` tests (and notebook cells flagged `#| slow` / `#| cuda`) are skipped by default and
reported as skipped. Run them with `--run-slow` / on a machine with CUDA (or SKELNB_TEST_FLAGS="slow cuda")."""

import os

import pytest

from skelnb.core import shared_data


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


@pytest.fixture(scope="session")
def ntu_hiclr_samples():
    "The 5 real NTU samples through HiCLR's pipeline, (5, 3, 50, 25, 2) float32; sample 1 (A058) has two persons."
    from skelnb.data.samples import ntu_sample_paths, ntu_samples

    if shared_data("ntu_samples") is None:
        pytest.skip("shared data (../shared/data or $SKELNB_DATA) absent")
    files = ntu_sample_paths()
    assert len(files) == 5 and "A058" in files[1].name
    return ntu_samples().x


@pytest.fixture(scope="session")
def ntu(ntu_hiclr_samples):
    "`ntu_hiclr_samples` under the short name the augmentation and encoder tests use (a test file may define its own)."
    return ntu_hiclr_samples
