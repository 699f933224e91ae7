"""The ctdet image pipeline: affine geometry, warps, augmentation draws, colour, normalisation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from centernet_fast.data import (COCO_BGR, IMAGENET_RGB, AugmentConfig, CtdetTransform,
                                 Normalization, compose, get_affine_transform, hflip_transform,
                                 invert, normalize, transform_boxes, warp_image)
from centernet_fast.data.color import (COCO_EIGVAL_BGR, COCO_EIGVEC_BGR, color_jitter_,
                                       lighting_)
from centernet_fast.data.transforms import CROP_SCALES, _get_border
from detection_data import box_mask_image, iou, mask_extent

# Leaves the warped pixels as they are (RGB, [0, 1]): the tests look at the geometry.
PLAIN = Normalization("rgb", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
NO_COLOR = dict(color=False)


def original_affine(center, scale, output_size):
    """The original get_affine_transform (rot = 0) built as it is: three point pairs solved for
    the affine map (what cv2.getAffineTransform does)."""
    height, width = output_size
    c = np.asarray(center, dtype=np.float64)
    src = [c, c + [0, -scale / 2]]
    dst = [np.array([width / 2, height / 2]), np.array([width / 2, height / 2 - width / 2])]
    third = lambda a, b: b + np.array([-(a - b)[1], (a - b)[0]])  # noqa: E731
    src.append(third(*src))
    dst.append(third(*dst))
    a = np.array([[p[0], p[1], 1.0] for p in src])
    return np.linalg.solve(a, np.array(dst)).T


@pytest.mark.parametrize("center,scale,size", [((200.0, 150.0), 400.0, (128, 128)),
                                               ((37.5, 80.25), 96.0, (64, 96)),
                                               ((320.0, 240.0), 256.0, (136, 160))])
def test_affine_transform_matches_the_original_construction(center, scale, size):
    m = get_affine_transform(center, scale, size)
    np.testing.assert_allclose(m, original_affine(center, scale, size), atol=1e-9)
    np.testing.assert_allclose(compose(invert(m), m), [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_transform_boxes_keeps_corners_ordered_under_a_flip():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 50.0], [0.0, 0.0, 100.0, 10.0]])
    flipped = transform_boxes(boxes, hflip_transform(100))
    assert torch.equal(flipped, torch.tensor([[70.0, 20.0, 90.0, 50.0], [0.0, 0.0, 100.0, 10.0]]))
    assert flipped.dtype == torch.float32


def test_warp_image_identity_translation_and_half_scale():
    image = torch.rand(3, 12, 16, generator=torch.Generator().manual_seed(0))
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    torch.testing.assert_close(warp_image(image, identity, (12, 16)), image, atol=1e-5, rtol=0)
    shifted = warp_image(image, np.array([[1.0, 0, 3], [0, 1.0, 2]]), (12, 16))
    torch.testing.assert_close(shifted[:, 2:, 3:], image[:, :10, :13], atol=1e-5, rtol=0)
    assert shifted[:, :2].abs().max() == 0 and shifted[:, :, :3].abs().max() == 0
    # Output pixel centre j + 0.5 samples source x = 2 j + 1, halfway between two pixel centres.
    half = warp_image(image, np.array([[0.5, 0, 0], [0, 0.5, 0]]), (6, 8))
    torch.testing.assert_close(half, F.avg_pool2d(image[None], 2)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("size,border", [(512, 128), (400, 128), (256, 64), (200, 64), (100, 32),
                                         (2, 0)])
def test_get_border_halves_until_the_centre_has_room(size, border):
    assert _get_border(128, size) == border


def crop_cases():
    base = dict(down_ratio=4, normalization=PLAIN)
    return {
        "test resize": CtdetTransform(256, **base),
        "test keep_res": CtdetTransform(keep_res=True, **base),
        "random crop": CtdetTransform(256, train=True, augment=AugmentConfig(**NO_COLOR), **base),
        "shift_scale": CtdetTransform(256, train=True, augment=AugmentConfig(
            crop="shift_scale", **NO_COLOR), **base),
        "random crop flipped": CtdetTransform(256, train=True, augment=AugmentConfig(
            flip=1.0, **NO_COLOR), **base),
        "keep_res train": CtdetTransform(train=True, keep_res=True, augment=AugmentConfig(
            crop="shift_scale", **NO_COLOR), **base),
    }


@pytest.mark.parametrize("case", list(crop_cases()))
def test_boxes_follow_the_image(case):
    """Each box is painted into one channel; after the transform the returned box must be where
    the painted pixels went (IoU >= 0.9), or gone when they left the crop."""
    transform = crop_cases()[case]
    boxes = [(40, 30, 200, 150), (300, 200, 396, 296), (150, 120, 260, 280)]
    image = box_mask_image(300, 400, boxes)
    checked = 0
    for seed in range(12):
        inp, out, keep, warp = transform(image, torch.tensor(boxes, dtype=torch.float32),
                                         np.random.default_rng(seed))
        assert inp.shape[1:] == warp.input_size
        assert out.shape == (int(keep.sum()), 4)
        kept = dict(zip(np.flatnonzero(keep.numpy()).tolist(), out * transform.down_ratio))
        for c in range(3):
            extent = mask_extent(inp[c])
            if c not in kept:
                assert extent is None or (extent[2] - extent[0]) * (extent[3] - extent[1]) <= 4
                continue
            box = kept[c].tolist()
            if min(box[2] - box[0], box[3] - box[1]) >= 8:
                assert iou(box, extent) >= 0.9, (case, seed, c, box, extent)
                checked += 1
    assert checked >= 12


@pytest.mark.parametrize("crop", ["none", "random", "shift_scale"])
def test_flip_mirrors_image_and_boxes(crop):
    image = np.random.default_rng(5).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    boxes = torch.tensor([[10.0, 20.0, 50.0, 70.0], [60.0, 5.0, 119.0, 40.0]])
    results = {}
    for flip in (0.0, 1.0):
        t = CtdetTransform(128, train=True, normalization=PLAIN,
                           augment=AugmentConfig(crop=crop, flip=flip, **NO_COLOR))
        results[flip] = t(image, boxes, np.random.default_rng(11))
    (plain, plain_boxes, keep0, warp0), (mirror, mirror_boxes, keep1, warp1) = results.values()
    assert warp1.flipped and not warp0.flipped and torch.equal(keep0, keep1)
    torch.testing.assert_close(mirror, plain.flip(-1), atol=1e-4, rtol=0)
    out_w = warp0.output_size[1]
    torch.testing.assert_close(mirror_boxes[:, [0, 2]], out_w - plain_boxes[:, [2, 0]])
    torch.testing.assert_close(mirror_boxes[:, [1, 3]], plain_boxes[:, [1, 3]])


def test_augmentation_is_deterministic_given_the_generator():
    image = np.random.default_rng(1).integers(0, 256, size=(200, 300, 3), dtype=np.uint8)
    boxes = torch.tensor([[20.0, 30.0, 120.0, 150.0], [150.0, 60.0, 290.0, 190.0]])
    t = CtdetTransform(128, train=True)
    first, again, other = (t(image, boxes, np.random.default_rng(s)) for s in (7, 7, 8))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])
    # Colour draws come after the geometric ones: the same seed gives the same boxes without them.
    no_color = CtdetTransform(128, train=True, augment=AugmentConfig(**NO_COLOR))
    assert torch.equal(no_color(image, boxes, np.random.default_rng(7))[1], first[1])
    with pytest.raises(ValueError, match="Generator"):
        t(image, boxes)


def test_crop_draws_stay_in_the_original_ranges():
    height, width = 300, 500
    random_crop = CtdetTransform(512, train=True)
    shift_scale = CtdetTransform(512, train=True, augment=AugmentConfig(crop="shift_scale"))
    base = float(max(height, width))
    flips = 0
    for seed in range(200):
        w = random_crop.warp(height, width, np.random.default_rng(seed))
        assert round(w.scale / base, 6) in CROP_SCALES
        assert 128 <= w.center[0] < width - 128 and 64 <= w.center[1] < height - 64
        assert w.center[0] == int(w.center[0])
        flips += w.flipped
        w = shift_scale.warp(height, width, np.random.default_rng(seed))
        assert 0.6 - 1e-9 <= w.scale / base <= 1.4 + 1e-9
        assert abs(w.center[0] - width / 2) <= 0.2 * base + 1e-9
        assert abs(w.center[1] - height / 2) <= 0.2 * base + 1e-9
    assert 70 < flips < 130


def test_keep_res_pads_to_multiples_of_32_and_the_inverse_maps_back():
    image = np.random.default_rng(2).integers(0, 256, size=(333, 250, 3), dtype=np.uint8)
    boxes = torch.tensor([[0.0, 0.0, 250.0, 333.0], [17.5, 40.0, 99.0, 201.25]])
    inp, out, keep, warp = CtdetTransform(keep_res=True, normalization=PLAIN)(image, boxes)
    assert warp.input_size == (352, 256) and warp.output_size == (88, 64) and keep.all()
    # The image sits unresampled at the centre of the padded input.
    dy, dx = 352 // 2 - 333 // 2, 256 // 2 - 250 // 2
    expected = torch.zeros(3, 352, 256)
    expected[:, dy:dy + 333, dx:dx + 250] = torch.from_numpy(image).permute(2, 0, 1) / 255
    torch.testing.assert_close(inp, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(transform_boxes(out, warp.output_to_image), boxes)
    # (side | 31) + 1, as the original: an exact multiple of 32 still grows by 32.
    t = CtdetTransform(keep_res=True)
    assert t.warp(512, 640).input_size == (544, 672)
    assert CtdetTransform(keep_res=True, pad=127).warp(511, 300).input_size == (512, 384)


def test_resize_maps_the_longer_side_to_the_input_and_back():
    boxes = torch.tensor([[12.0, 7.0, 380.0, 290.0]])
    t = CtdetTransform((256, 320), down_ratio=4)
    image = np.zeros((300, 400, 3), dtype=np.uint8)
    inp, out, _, warp = t(image, boxes)
    assert inp.shape == (3, 256, 320) and warp.output_size == (64, 80)
    assert warp.center == (200.0, 150.0) and warp.scale == 400.0
    np.testing.assert_allclose(warp.image_to_output[0, 0], 80 / 400)
    torch.testing.assert_close(transform_boxes(out, warp.output_to_image), boxes)


def test_normalization_channel_orders():
    image = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(3))
    bgr = normalize(image, COCO_BGR)
    torch.testing.assert_close(bgr[0], (image[2] - 0.40789654) / 0.28863828)
    torch.testing.assert_close(bgr[2], (image[0] - 0.47026115) / 0.27809835)
    rgb = normalize(image, IMAGENET_RGB)
    torch.testing.assert_close(rgb[0], (image[0] - 0.485) / 0.229)
    with pytest.raises(ValueError, match="channel_order"):
        Normalization("hsv", (0, 0, 0), (1, 1, 1))


def test_lighting_adds_the_pca_shift_in_bgr_order():
    image = torch.rand(3, 6, 7, generator=torch.Generator().manual_seed(4))
    out = image.clone()
    lighting_(out, np.random.default_rng(9), 0.1)
    alpha = np.random.default_rng(9).normal(0.0, 0.1, size=3)
    shift_bgr = COCO_EIGVEC_BGR.astype(np.float64) @ (COCO_EIGVAL_BGR * alpha)
    expected = image + torch.tensor(shift_bgr[::-1].copy(), dtype=torch.float32).view(3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_color_jitter_blends_as_the_original():
    image = torch.rand(3, 5, 6, generator=torch.Generator().manual_seed(6))
    out = image.clone()
    color_jitter_(out, np.random.default_rng(21), 0.4)
    rng = np.random.default_rng(21)
    gray = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
    expected = image.clone()
    for op in rng.permutation(3):
        a = 1.0 + rng.uniform(-0.4, 0.4)
        blend = (1.0, gray.mean(), gray)[op]  # brightness, contrast, saturation
        expected = a * expected + (0.0 if op == 0 else (1 - a) * blend)
    torch.testing.assert_close(out, expected)
    unchanged = image.clone()
    color_jitter_(unchanged, np.random.default_rng(0), 0.0)
    torch.testing.assert_close(unchanged, image)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="crop"):
        AugmentConfig(crop="corner")
    with pytest.raises(ValueError, match="flip"):
        AugmentConfig(flip=1.5)
    with pytest.raises(ValueError, match="input_size"):
        CtdetTransform(0)
