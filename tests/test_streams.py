"""skelnb.streams against the reference definitions (JHang2020/HiCLR@49ffdf8
`processor/pretrain_hiclr.py` L74-L76), on real data.

The reference computes the bone stream with an explicit loop over the 1-based NTU pairs into a zero array, and the
motion stream as the difference of consecutive frames with a zero last frame; `reference_bone` and `reference_motion`
(skelnb.testing, with the bone tables) restate those loops as test oracles.
"""

import numpy as np
import pytest
import torch

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.samples import ntu_sample, ntu_sample_paths, ucla_sample
from skelnb.layouts import NTU25, NW_UCLA
from skelnb.streams import STREAMS, bone_parents, to_bone, to_motion, to_stream
from skelnb.testing import NTU_BONES_1BASED, UCLA_BONES_1BASED, reference_bone, reference_motion


@pytest.fixture(scope="module")
def real():
    "Real samples in the stored layout: NTU (both pipelines) and NW-UCLA (one body, the second absent)."
    if shared_data("ntu_samples") is None or shared_data("nw_ucla") is None:
        pytest.skip("shared data absent")
    ntu = [ntu_sample(p, pipeline)[0] for p in ntu_sample_paths() for pipeline in ("hiclr", "halp")]
    names = ("a01_s01_e00_v01", "a06_s03_e02_v02", "a12_s10_e04_v03")
    ucla = [ucla_sample(name, pipeline)[0] for name in names for pipeline in ("hiclr", "halp")]
    return {"ntu": ntu, "ucla": ucla}


def test_bone_equals_reference_loop(real):
    for x in real["ntu"]:
        np.testing.assert_array_equal(to_bone(x, NTU25), reference_bone(x, NTU_BONES_1BASED))
    for x in real["ucla"]:
        np.testing.assert_array_equal(to_bone(x, NW_UCLA), reference_bone(x, UCLA_BONES_1BASED))
    assert [(v + 1, p + 1) for v, p in enumerate(bone_parents(NTU25))] == NTU_BONES_1BASED
    assert [(v + 1, p + 1) for v, p in enumerate(bone_parents("nw_ucla"))] == UCLA_BONES_1BASED


def test_motion_equals_reference(real):
    for x in real["ntu"] + real["ucla"]:
        np.testing.assert_array_equal(to_motion(x), reference_motion(x))
        assert (to_motion(x)[:, -1] == 0).all()


@pytest.mark.parametrize("stream", STREAMS)
def test_batched_equals_per_sample(real, stream):
    for key, layout in (("ntu", NTU25), ("ucla", NW_UCLA)):
        samples = [x for x in real[key] if x.shape[1] == 50]
        batch = np.stack(samples)  # (N, C, T, V, M)
        got = to_stream(batch, stream, layout)
        assert got.shape == batch.shape and got.dtype == batch.dtype
        for i, x in enumerate(samples):
            np.testing.assert_array_equal(got[i], to_stream(x, stream, layout))
        np.testing.assert_array_equal(to_stream(batch[None], stream, layout)[0], got)  # more leading axes


@pytest.mark.parametrize("stream", STREAMS)
def test_torch_equals_numpy(real, stream):
    for key, layout in (("ntu", NTU25), ("ucla", NW_UCLA)):
        for x in real[key]:
            t = torch.from_numpy(x)
            got = to_stream(t, stream, layout)
            assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.device == t.device
            np.testing.assert_array_equal(got.numpy(), to_stream(x, stream, layout))
            got64 = to_stream(t.double()[None], stream, layout)
            assert got64.dtype == torch.float64
            np.testing.assert_array_equal(got64[0].numpy(), to_stream(x.astype(np.float64), stream, layout))


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int32])
def test_torch_dtype_and_device_kept(stream, dtype):
    x = (torch.arange(2 * 3 * 5 * 25 * 2) % 7).reshape(2, 3, 5, 25, 2).to(dtype)
    got = to_stream(x, stream, NTU25)
    assert got.dtype == dtype and got.shape == x.shape
    meta = to_stream(x.to("meta"), stream, NTU25)
    assert meta.device.type == "meta" and meta.dtype == dtype and meta.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_numpy_dtype_kept(dtype):
    x = (np.arange(3 * 4 * 20 * 1) % 5).reshape(3, 4, 20, 1).astype(dtype)
    for stream in STREAMS:
        got = to_stream(x, stream, NW_UCLA)
        assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == x.shape


@pytest.mark.cuda
@pytest.mark.parametrize("stream", STREAMS)
def test_cuda(real, stream):
    for x in real["ntu"]:
        t = torch.from_numpy(x).cuda()
        got = to_stream(t, stream, NTU25)
        assert got.device == t.device and got.dtype == t.dtype
        np.testing.assert_allclose(got.cpu().numpy(), to_stream(x, stream, NTU25), rtol=0, atol=1e-6)


def test_absent_person_stays_zero(real):
    for key, layout in (("ntu", NTU25), ("ucla", NW_UCLA)):
        for x in real[key]:
            absent = ~np.abs(x).any(axis=(0, 1, 2))
            for stream in STREAMS:
                assert (to_stream(x, stream, layout)[..., absent] == 0).all()
                assert (to_stream(torch.from_numpy(x), stream, layout)[..., absent] == 0).all()
    assert sum((~np.abs(x).any(axis=(0, 1, 2))).sum() for x in real["ucla"]) == len(real["ucla"])


def test_gradients_flow():
    x = torch.randn(2, 3, 6, 25, 2, dtype=torch.float64, requires_grad=True)
    for stream in ("bone", "motion"):
        assert torch.autograd.gradcheck(lambda t: to_stream(t, stream, NTU25), (x,))


def test_joint_stream_is_the_input(real):
    x = real["ntu"][0]
    assert to_stream(x, "joint") is x
    t = torch.from_numpy(x)
    assert to_stream(t, "joint", NTU25) is t


def test_errors(real):
    x = real["ntu"][0]
    with pytest.raises(ValueError, match="unknown stream 'velocity'"):
        to_stream(x, "velocity", NTU25)
    with pytest.raises(ValueError, match="needs a layout"):
        to_stream(x, "bone")
    with pytest.raises(SkeletonDataError, match="expected 20 joints"):
        to_bone(x, NW_UCLA)
    with pytest.raises(SkeletonDataError, match=r"\(\.\.\., C, T, V, M\)"):
        to_motion(x[0])
    with pytest.raises(SkeletonDataError, match=r"\(\.\.\., C, T, V, M\)"):
        to_bone(torch.from_numpy(x[0]), NTU25)
    with pytest.raises(KeyError, match="unknown layout"):
        to_bone(x, "coco17")


def test_single_frame_motion_is_zero(real):
    x = real["ntu"][0][:, :1]
    np.testing.assert_array_equal(to_motion(x), np.zeros_like(x))
    np.testing.assert_array_equal(to_motion(torch.from_numpy(x)).numpy(), np.zeros_like(x))


def test_batch_stream_once(real):
    "A SkeletonBatch is converted once, from joints; a bone or motion batch is refused with a message that says so."
    from skelnb.batch import SkeletonBatch

    x = torch.from_numpy(np.stack(real["ntu"][0::2]))  # the HiCLR samples, (5, 3, 50, 25, 2)
    joints = SkeletonBatch(x, num_frames=[50, 40, 30, 20, 10], layout="ntu25", labels=torch.arange(5))
    assert to_stream(joints, "joint") is joints
    for stream in ("bone", "motion"):
        out = to_stream(joints, stream)
        assert (out.stream, out.layout) == (stream, "ntu25")
        assert torch.equal(out.x, to_stream(x, stream, NTU25))
        assert torch.equal(out.num_frames, joints.num_frames) and torch.equal(out.labels, joints.labels)
        for again in STREAMS:
            with pytest.raises(ValueError, match=f"already a {stream} stream; stream conversions start from joints"):
                to_stream(out, again)
    assert to_stream(joints.replace(layout=None), "bone", "ntu25").layout == "ntu25"
    with pytest.raises(ValueError, match="needs a layout"):
        to_stream(joints.replace(layout=None), "bone")
    with pytest.raises(ValueError, match="layout 'nw_ucla' given for a batch of layout 'ntu25'"):
        to_stream(joints, "bone", NW_UCLA)
    with pytest.raises(ValueError, match="unknown stream"):
        to_stream(joints, "velocity")


def test_one_definition_of_streams():
    import skelnb.batch

    assert STREAMS is skelnb.batch.STREAMS
