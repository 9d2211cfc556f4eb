"""skelnb.data.pipelines against the reference code's semantics, on real data.

TEST ORACLES. `oracle_hiclr` and `oracle_agcn` below are slow, literal, loop-by-loop restatements (written for these
tests, in our own words) of what the reference code does to one sample:
- HiCLR `feeder/NTUDatasets.py` `NTUMotionProcessor.__getitem__` with data_type='relative', sampling='resize',
  y_rotation=True (length count, centring, `cv2.resize` per person, `parallel_skeleton` frame by frame);
- HaLP/CMD `data_gen/preprocess.py` `pre_normalization` with `data_gen/rotation.py` (four passes over persons,
  frames and joints, editing the stored array in place).
They work on the reference's own array layout, a zero-padded (C, 300, V, M) float32 block, and use OpenCV where the
reference does. The rotation of the oracle is built with the textbook Rodrigues formula, independently of the
Euler-Rodrigues form of the package.
"""

import math

import numpy as np
import pytest

from skelnb.core import SkeletonDataError, shared_data
from skelnb.data.pipelines import (
    align_first_frame,
    angle_between,
    center_on_first_person,
    check_bodies,
    halp_pipeline,
    hiclr_pipeline,
    pad_null_frames,
    parallel_skeleton,
    resize_frames,
    rotation_matrix,
    valid_frame_count,
)
from skelnb.data.samples import ntu_bodies, ucla_bodies
from skelnb.layouts import NTU25, NW_UCLA

cv2 = pytest.importorskip("cv2")


# ------------------------------------------------------------------------------------------------ test oracles
def oracle_reference_array(bodies, frames=300):
    "The reference's stored sample: raw bodies (T, M, V, 3) as a zero-padded (C, frames, V, M) float32 block."
    data = np.zeros((3, frames, bodies.shape[2], bodies.shape[1]), np.float32)
    n = min(len(bodies), frames)
    data[:, :n] = bodies[:n].transpose(3, 0, 2, 1)
    return data


def oracle_hiclr(bodies, layout, out_frames=50):
    "TEST ORACLE: HiCLR's NTUMotionProcessor on one sample, loop by loop. Returns (C, out_frames, V, M) float32."
    assert layout.index("spine_base") == 0  # the reference counts frames on joint index 0
    data = oracle_reference_array(bodies)
    C, T, V, M = data.shape
    # length: how many frames have a non-zero joint 0 of person 0 (on the raw data)
    length = 0
    for t in range(T):
        if np.abs(data[:, t, 0, 0]).sum() != 0:
            length += 1
    # relative coordinates: every person minus its own centre joint (NTU joint 21), frame by frame
    data = data - data[:, :, layout.center, :].reshape(C, T, 1, M)
    # resize: each person's first `length` frames as a (length, V) image with 3 channels, OpenCV linear,
    # to out_frames rows
    resized = np.zeros((C, out_frames, V, M))
    for m in range(M):
        image = data[:, :length, :, m].transpose(1, 2, 0)
        resized[:, :, :, m] = cv2.resize(image, (V, out_frames), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    data = resized.astype(np.float32)
    # y rotation, person by person: shoulder vector (joint 9 - joint 5) without y, angle in degrees per frame,
    # one sign for the whole sequence, then each frame multiplied by its own R_y
    right, left = layout.index("right_shoulder"), layout.index("left_shoulder")
    for m in range(M):
        person = data[:, :, :, m]  # (C, T, V), float32
        vec = person[:, :, right] - person[:, :, left]  # (3, T)
        vec[1, :] = 0
        norm = np.sqrt(np.sum(np.square(vec), axis=0))
        degrees = np.arccos(vec[0, :] / (norm + 0.0001)) * (180 / np.pi)
        if np.sum(vec[2, :]) >= 0:
            degrees = -degrees
        rotated = np.zeros((out_frames, V, 3))
        for t in range(out_frames):
            theta = degrees[t] * np.pi / 180
            R = np.zeros((3, 3))
            R[0, 0], R[0, 2] = np.cos(theta), -np.sin(theta)
            R[1, 1] = 1
            R[2, 0], R[2, 2] = np.sin(theta), np.cos(theta)
            rotated[t] = np.dot(R, person[:, t, :]).T
        data[:, :, :, m] = rotated.transpose(2, 0, 1)
    return data


def oracle_rotation(axis, theta):
    "TEST ORACLE: rotation by theta about axis (Rodrigues: I + sin K + (1 - cos) K^2), identity for tiny axis/angle."
    axis = np.asarray(axis, dtype=np.float64)
    if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * (K @ K)


def oracle_angle(v1, v2):
    "TEST ORACLE: angle between two vectors, 0 when one of them is (nearly) zero."
    v1, v2 = np.asarray(v1), np.asarray(v2)
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    return np.arccos(np.clip(np.dot(v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)), -1.0, 1.0))


def oracle_agcn(bodies, layout, max_frames=300):
    "TEST ORACLE: AGCN pre_normalization of one sample, loop by loop, in place: ((C, max_frames, V, M), num_frames)."
    fp = oracle_reference_array(bodies, max_frames)[None]  # (1, C, T, V, M)
    s = np.transpose(fp, [0, 4, 2, 3, 1])  # a view (N, M, T, V, C): writes go into fp
    sample = s[0]
    M, T, V, _ = sample.shape
    base, mid = layout.index("spine_base"), layout.index("spine_mid")
    right, left = layout.index("right_shoulder"), layout.index("left_shoulder")
    # pass 1: per person, shift to the front when frame 0 is empty, then loop-pad the trailing empty block
    for p in range(M):
        person = sample[p]
        if person.sum() == 0:
            continue
        if person[0].sum() == 0:
            keep = [t for t in range(T) if person[t].sum() != 0]
            moved = person[keep].copy()
            person[:] = 0
            person[: len(moved)] = moved
        for t in range(T):
            if person[t].sum() == 0 and person[t:].sum() == 0:
                rest = T - t
                copies = int(np.ceil(rest / t))
                sample[p, t:] = np.concatenate([person[:t] for _ in range(copies)], 0)[:rest]
                break
    # pass 2: subtract person 0's spine-middle joint of each frame from every person, zero joints stay zero
    if sample.sum() != 0:
        centre = sample[0][:, mid : mid + 1, :].copy()
        for p in range(M):
            if sample[p].sum() == 0:
                continue
            nonzero = (sample[p].sum(-1) != 0).reshape(T, V, 1)
            sample[p] = (sample[p] - centre) * nonzero
    # passes 3 and 4: spine (base -> mid) of person 0 in frame 0 onto z, then shoulders (left -> right) onto x,
    # each read from the array as the previous pass left it, applied joint by joint to non-empty frames
    for a, b, target in ((base, mid, [0, 0, 1]), (left, right, [1, 0, 0])):
        if sample.sum() == 0:
            continue
        v = sample[0, 0, b] - sample[0, 0, a]
        R = oracle_rotation(np.cross(v, target), oracle_angle(v, target))
        for p in range(M):
            if sample[p].sum() == 0:
                continue
            for t in range(T):
                if sample[p, t].sum() == 0:
                    continue
                for j in range(V):
                    sample[p, t, j] = np.dot(R, sample[p, t, j])
    return fp[0], len(bodies)


# ------------------------------------------------------------------------------------------------ real samples
def _pku(video, k):
    frames = np.loadtxt(shared_data("pku_mmd_samples", "skeleton", f"{video}.txt"), dtype=np.float32)
    _, start, end, _ = np.loadtxt(shared_data("pku_mmd_samples", "label", f"{video}.txt"), delimiter=",", dtype=int)[k]
    return frames.reshape(-1, 2, 25, 3)[start - 1 : end]


def _ucla(name):
    return ucla_bodies(name)  # the second body absent


def _ntu(name, method):
    return ntu_bodies(name, "hiclr" if method == "order" else "halp")  # HiCLR: frame order, HaLP: energy


def _variant(x, kind):
    "Real samples edited into the cases the reference code treats specially."
    x = x.copy()
    if kind == "late_second":  # person 1 enters after 15 frames and leaves 10 frames before the end
        x[:15, 1] = 0
        x[-10:, 1] = 0
    elif kind == "gap_first":  # person 0 missing for 6 frames in the middle
        x[20:26, 0] = 0
    elif kind == "late_first":  # person 0 missing in its first 7 frames
        x[:7, 0] = 0
    elif kind == "alone":  # no second person
        x[:, 1] = 0
    elif kind == "one_frame":
        x = x[:1]
    elif kind == "two_frames":
        x = x[:2]
    return x


NTU_NAMES = [
    "S001C001P001R001A011",
    "S001C003P008R002A058",
    "S002C001P003R001A003",
    "S003C001P015R001A034",
    "S004C002P003R001A017",
]
PKU_CASES = [("0105-M", 0), ("0105-M", 6), ("0206-R", 1), ("0206-R", 3), ("0310-R", 1), ("0310-R", 3)]
VARIANTS = ["asis", "late_second", "gap_first", "late_first", "alone", "one_frame", "two_frames"]
UCLA_NAMES = ["a01_s01_e00_v01", "a12_s10_e04_v03", "a06_s03_e02_v02"]


def real_samples():
    "(id, loader) pairs: (T, 2, V, 3) raw bodies and their layout, from the shared data."
    cases = [(f"ntu-{n}-{m}", lambda n=n, m=m: (_ntu(n, m), NTU25)) for n in NTU_NAMES for m in ("order", "energy")]
    cases += [
        (f"pku-{v}-{k}-{kind}", lambda v=v, k=k, kind=kind: (_variant(_pku(v, k), kind), NTU25))
        for v, k in PKU_CASES
        for kind in VARIANTS
    ]
    cases += [(f"ucla-{n}", lambda n=n: (_ucla(n), NW_UCLA)) for n in UCLA_NAMES]
    return cases


CASES = real_samples()


@pytest.fixture(params=[loader for _, loader in CASES], ids=[i for i, _ in CASES])
def sample(request, shared):
    if not (shared / "nw_ucla" / "all_sqe").exists():
        pytest.skip("NW-UCLA shared data absent")
    return request.param()


# ------------------------------------------------------------------------------------------------ resize_frames
@pytest.mark.parametrize("frames", [1, 2, 13, 49, 50, 51, 64, 92, 127, 300])
@pytest.mark.parametrize("target", [50, 64, 300])
def test_resize_frames_equals_opencv(shared, frames, target):
    x = np.concatenate([_pku("0105-M", 6)] * 3)[:frames]  # real data, up to 381 frames
    for m in range(2):
        person = np.ascontiguousarray(x[:, m])  # the (T, V, 3) image the reference resizes
        expected = cv2.resize(person, (25, target), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(resize_frames(person, target), expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(resize_frames(x, target)[:, m], expected, rtol=0, atol=1e-6)


def test_resize_frames_hand_derived():
    x = np.array([[0.0], [1.0], [3.0]], np.float32)
    # 3 -> 6 frames: positions -0.25, 0.25, 0.75, 1.25, 1.75, 2.25 (clamped at both ends)
    np.testing.assert_allclose(resize_frames(x, 6)[:, 0], [0, 0.25, 0.75, 1.5, 2.5, 3.0], atol=1e-7)
    # 3 -> 1 frame: position 1.0, the middle frame
    np.testing.assert_allclose(resize_frames(x, 1)[:, 0], [1.0])
    assert resize_frames(x, 6).dtype == np.float32 and resize_frames(x.astype(np.float64), 6).dtype == np.float64
    with pytest.raises(SkeletonDataError, match="0 frames"):
        resize_frames(np.zeros((0, 3)), 5)
    with pytest.raises(ValueError, match="positive integer"):
        resize_frames(x, 0)


# ------------------------------------------------------------------------------------------------ HiCLR
def test_hiclr_pipeline_equals_oracle(sample):
    x, layout = sample
    got = hiclr_pipeline(x, layout)
    expected = oracle_hiclr(x, layout)
    assert got.shape == (3, 50, layout.num_joints, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    absent = ~np.abs(x).any(axis=(0, 2, 3))
    assert (got[..., absent] == 0).all()  # an absent person stays exactly zero


def test_hiclr_steps_equal_oracle(sample):
    x, layout = sample
    length = valid_frame_count(x, layout)
    assert length == sum(np.abs(x[t, 0, 0]).sum() != 0 for t in range(len(x)))
    centred = x - x[:, :, layout.center : layout.center + 1]
    resized = resize_frames(centred[:length], 50)
    for m in range(2):
        np.testing.assert_allclose(
            resized[:, m],
            cv2.resize(
                np.ascontiguousarray(centred[:length, m]), (layout.num_joints, 50), interpolation=cv2.INTER_LINEAR
            ),
            rtol=0,
            atol=1e-6,
        )


def test_hiclr_pipeline_other_lengths_and_bodies(shared):
    x = _pku("0105-M", 0)
    for frames in (1, 32, 64):
        np.testing.assert_allclose(
            hiclr_pipeline(x, NTU25, frames=frames), oracle_hiclr(x, NTU25, frames), rtol=0, atol=2e-6
        )
    one = hiclr_pipeline(x[:, :1], NTU25)
    np.testing.assert_allclose(one[..., 0], hiclr_pipeline(x, NTU25)[..., 0], rtol=0, atol=0)


def _yaw(phi):
    c, s = np.cos(phi), np.sin(phi)
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


def _shoulder_yaw(x, layout=NTU25):
    v = x[:, :, layout.index("right_shoulder")] - x[:, :, layout.index("left_shoulder")]
    return np.degrees(np.arctan2(v[..., 2], v[..., 0]))


def test_parallel_skeleton_undoes_a_known_yaw(shared):
    pose = _pku("0206-R", 3)[0].astype(np.float64)
    pose -= pose[:, 20:21]
    pose = pose @ _yaw(-np.radians(_shoulder_yaw(pose[None])[0, 0])).T  # person 0's shoulders along +x
    pose[1] = 0
    assert abs(_shoulder_yaw(pose[None])[0, 0]) < 1e-9
    for phi in np.radians([-179, -90, -30, -1, 0.2, 10, 45, 90, 135, 179]):
        seq = np.repeat((pose @ _yaw(phi).T)[None], 3, axis=0).astype(np.float32)
        np.testing.assert_allclose(parallel_skeleton(seq, NTU25, eps=0), np.repeat(pose[None], 3, 0), atol=1e-5)
        np.testing.assert_allclose(
            parallel_skeleton(seq, NTU25, eps=0, per_frame_sign=True), np.repeat(pose[None], 3, 0), atol=1e-5
        )
        default = parallel_skeleton(seq, NTU25)
        width = np.linalg.norm(pose[0, 8] - pose[0, 4])
        # the 1e-4 leaves at most arccos(1 - 1e-4/width) of yaw (about 1.5 degrees for 30 cm shoulders)
        assert np.abs(_shoulder_yaw(default)[:, 0]).max() <= np.degrees(np.arccos(1 - 1e-4 / width)) + 1e-3
        assert (default[:, 1] == 0).all()


def test_parallel_skeleton_sign_once_per_sequence(shared):
    pose = _pku("0105-M", 0)[0, :1].astype(np.float64)
    pose -= pose[:, 20:21]
    pose = pose @ _yaw(-np.radians(_shoulder_yaw(pose[None])[0, 0])).T
    phis = np.radians([30, 60, -20, 80])  # sum of sin > 0: the -20 frame is the minority
    seq = np.stack([pose @ _yaw(p).T for p in phis]).astype(np.float32)
    got = _shoulder_yaw(parallel_skeleton(seq, NTU25, eps=0))[:, 0]
    np.testing.assert_allclose(got, [0, 0, -40, 0], atol=1e-3)  # rotated the wrong way: twice the yaw
    np.testing.assert_allclose(
        _shoulder_yaw(parallel_skeleton(seq, NTU25, eps=0, per_frame_sign=True))[:, 0], 0, atol=1e-3
    )
    # shoulder line parallel to x (y dropped) and everything else rotated about y only: y unchanged, lengths kept
    out = parallel_skeleton(seq, NTU25, eps=0, per_frame_sign=True)
    np.testing.assert_array_equal(out[..., 1], seq[..., 1])
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(seq, axis=-1), atol=1e-6)


def test_hiclr_pipeline_errors(shared):
    x = _pku("0105-M", 0)
    with pytest.raises(SkeletonDataError, match="zero in every frame"):
        hiclr_pipeline(np.zeros_like(x), NTU25)
    only_second = x.copy()
    only_second[:, 0] = 0
    with pytest.raises(SkeletonDataError, match="zero in every frame"):
        hiclr_pipeline(only_second, NTU25)


@pytest.mark.parametrize("fn", [lambda x, l: hiclr_pipeline(x, l), lambda x, l: halp_pipeline(x, l)])
def test_bad_input(shared, fn):
    x = _pku("0105-M", 0)
    with pytest.raises(SkeletonDataError, match="expected 20 joints"):
        fn(x, NW_UCLA)
    with pytest.raises(SkeletonDataError, match=r"\(T, M, V, 3\)"):
        fn(x[:, 0], NTU25)
    with pytest.raises(SkeletonDataError, match=r"\(T, M, V, 3\)"):
        fn(x[..., :2], NTU25)
    with pytest.raises(SkeletonDataError, match="no frames"):
        fn(x[:0], NTU25)
    with pytest.raises(SkeletonDataError, match="no bodies"):
        fn(x[:, :0], NTU25)
    for value in (np.nan, np.inf, -np.inf):
        bad = x.copy()
        bad[11, 1, 7, 0] = value
        with pytest.raises(SkeletonDataError, match="frame 11, body 1, joint 7") as e:
            fn(bad, NTU25)
        assert e.value.field == "xyz"


def test_check_bodies_copies(shared):
    x = _pku("0105-M", 0)
    y = check_bodies(x.astype(np.float64), "ntu25")
    assert y.dtype == np.float32 and not np.shares_memory(x, y)


# ------------------------------------------------------------------------------------------------ HaLP / AGCN
def test_rotation_matrix_and_angle():
    rng = np.random.default_rng(1)
    for axis, theta in zip(rng.normal(size=(50, 3)), rng.uniform(-np.pi, np.pi, 50)):
        R = rotation_matrix(axis, theta)
        np.testing.assert_allclose(R, oracle_rotation(axis, theta), atol=1e-12)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert abs(np.linalg.det(R) - 1) < 1e-12
    for v in rng.normal(size=(50, 3)).astype(np.float32):
        for target in ([0, 0, 1], [1, 0, 0]):
            R = rotation_matrix(np.cross(v, target), angle_between(v, target))
            np.testing.assert_allclose(R @ v, np.linalg.norm(v) * np.array(target), atol=1e-6)
    np.testing.assert_array_equal(rotation_matrix([0, 0, 0], 2.0), np.eye(3))
    np.testing.assert_array_equal(rotation_matrix([0, 1, 0], 5e-7), np.eye(3))
    assert angle_between([0, 0, 0], [0, 0, 1]) == 0 and angle_between([0, 0, 1], [0, 0, 0]) == 0
    assert abs(angle_between([1, 0, 0], [0, 1, 0]) - np.pi / 2) < 1e-12
    assert abs(angle_between([1, 0, 0], [-1, 0, 0]) - np.pi) < 1e-12
    # the degenerate case kept from the reference: a vector pointing away from the target is not rotated
    v = np.array([0, 0, -1.0])
    np.testing.assert_array_equal(rotation_matrix(np.cross(v, [0, 0, 1]), angle_between(v, [0, 0, 1])), np.eye(3))


def test_halp_pipeline_equals_oracle(sample):
    x, layout = sample
    got, n = halp_pipeline(x, layout)
    expected, n_expected = oracle_agcn(x, layout)
    assert got.shape == (3, 300, layout.num_joints, 2) and got.dtype == np.float32 and n == n_expected == len(x)
    np.testing.assert_array_equal(got == 0, expected == 0)  # same empty frames and joints
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    absent = ~np.abs(x).any(axis=(0, 2, 3))
    assert (got[..., absent] == 0).all()


def test_halp_steps_hand_checked(sample):
    x, layout = sample
    base, mid = layout.index("spine_base"), layout.index("spine_mid")
    right, left = layout.index("right_shoulder"), layout.index("left_shoulder")
    s = np.zeros((300, *x.shape[1:]), np.float32)
    s[: len(x)] = x
    padded = pad_null_frames(s)
    for m in range(x.shape[1]):
        frames = np.flatnonzero(np.abs(s[:, m]).sum((1, 2)) != 0)
        if len(frames) == 0:
            assert (padded[:, m] == 0).all()
            continue
        if frames[0] == 0:
            block = s[: frames[-1] + 1, m]  # starts at frame 0: middle gaps are kept
        else:
            block = s[frames, m]  # starts late: its frames are packed to the front
        np.testing.assert_array_equal(padded[:, m], block[np.arange(300) % len(block)])
    centred = center_on_first_person(padded, mid)
    assert (centred[:, 0, mid] == 0).all()
    z = align_first_frame(centred, base, mid, (0, 0, 1))
    spine = z[0, 0, mid] - z[0, 0, base]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-6)
    xa = align_first_frame(z, left, right, (1, 0, 0))
    sh = xa[0, 0, right] - xa[0, 0, left]
    np.testing.assert_allclose(sh / np.linalg.norm(sh), [1, 0, 0], atol=1e-6)
    np.testing.assert_array_equal(xa, halp_pipeline(x, layout)[0].transpose(1, 3, 2, 0))
    # rotations keep every joint's distance to the spine middle of person 0
    np.testing.assert_allclose(np.linalg.norm(xa, axis=-1), np.linalg.norm(centred, axis=-1), rtol=1e-5, atol=1e-6)


def test_halp_upright_pose_recovered(shared):
    p = _pku("0310-R", 3)[0, 0].astype(np.float64)
    base, mid, right, left = 0, 1, 8, 4
    p -= p[mid]
    ez = (p[mid] - p[base]) / np.linalg.norm(p[mid] - p[base])
    sh = p[right] - p[left]
    ex = sh - (sh @ ez) * ez
    ex /= np.linalg.norm(ex)
    upright = p @ np.stack([ex, np.cross(ez, ex), ez]).T
    upright[right] = upright[left] + [np.linalg.norm(upright[right] - upright[left]), 0, 0]
    upright[[left, right], 2] = 0
    upright[right, 1] = upright[left, 1]
    upright -= upright[mid]
    rng = np.random.default_rng(7)
    for axis, theta in zip(rng.normal(size=(10, 3)), rng.uniform(-3, 3, 10)):
        x = np.zeros((40, 2, 25, 3), np.float32)
        x[:, 0] = upright @ oracle_rotation(axis, theta).T + rng.normal(size=3)
        data, n = halp_pipeline(x, NTU25)
        assert n == 40
        np.testing.assert_allclose(data[:, 0, :, 0].T, upright, atol=2e-5)
        np.testing.assert_allclose(data[:, 299, :, 0].T, upright, atol=2e-5)  # loop padding up to the end
        assert (data[..., 1] == 0).all()


def test_halp_lengths(shared):
    x = _pku("0105-M", 6)  # 127 frames
    long = np.concatenate([x, x, x])  # 381 frames: the first 300 kept, 381 stored
    data, n = halp_pipeline(long, NTU25)
    expected, n_expected = oracle_agcn(long, NTU25)
    assert n == n_expected == 381 and data.shape[1] == 300
    np.testing.assert_allclose(data, expected, rtol=0, atol=2e-6)
    data, n = halp_pipeline(x, NTU25, max_frames=64)
    expected, _ = oracle_agcn(x, NTU25, max_frames=64)
    assert data.shape == (3, 64, 25, 2) and n == 127
    np.testing.assert_allclose(data, expected, rtol=0, atol=2e-6)
    with pytest.raises(SkeletonDataError, match="no body"):
        halp_pipeline(np.zeros_like(x), NTU25)
    with pytest.raises(ValueError, match="positive integer"):
        halp_pipeline(x, NTU25, max_frames=0)


def test_halp_person0_absent_is_reference_behaviour(shared):
    "Person 0 absent, person 1 present: no centring and no rotation, only padding (as the reference)."
    x = _pku("0206-R", 1)
    x[:, 0] = 0
    data, _ = halp_pipeline(x, NTU25)
    expected, _ = oracle_agcn(x, NTU25)
    np.testing.assert_allclose(data, expected, rtol=0, atol=2e-6)
    np.testing.assert_array_equal(data[:, : len(x), :, 1], x[:, 1].transpose(2, 0, 1))
