"""``engine.evaluate`` and its parts: ground truth fed back through the model outputs scores
AP 1, the flip test equals a hand computation, empty results and images without annotations,
result files, model modes, and bad input."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from centernet_fast.data import CocoDetection
from centernet_fast.engine import METRIC_NAMES, detect, eval_mode, evaluate
from centernet_fast.ops import reference
from detection_data import DEEPFOREST_DIR, DEEPFOREST_JSON, read_json, write_json
from engine_fakes import GroundTruthModel, PeakModel, PooledModel

# Non-contiguous category ids in another order than the labels: detections must map back.
CATEGORY_IDS = {1: 11, 2: 7, 3: 3}


def deepforest(**kwargs):
    return CocoDetection(DEEPFOREST_DIR, DEEPFOREST_JSON, **kwargs)


def remapped_deepforest(tmp_path, crop_height=None, drop_annotations_of=None):
    """The DeepForest fixture with category ids 11, 7, 3; SOAP_061 optionally cropped to its top
    ``crop_height`` rows (another image size in the batch); optionally without the annotations of
    one image id. Returns (image_dir, ann_file)."""
    data = read_json(DEEPFOREST_JSON)
    for c in data["categories"]:
        c["id"] = CATEGORY_IDS[c["id"]]
    for a in data["annotations"]:
        a["category_id"] = CATEGORY_IDS[a["category_id"]]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != drop_annotations_of]
    image_dir = DEEPFOREST_DIR
    if crop_height is not None:
        image_dir = str(tmp_path)
        for img in data["images"]:
            pixels = np.asarray(Image.open(os.path.join(DEEPFOREST_DIR, img["file_name"])))
            if img["file_name"].startswith("SOAP"):
                pixels, img["height"] = pixels[:crop_height], crop_height
            Image.fromarray(pixels).save(tmp_path / img["file_name"])
    return image_dir, write_json(tmp_path / "instances.json", data)


@pytest.mark.parametrize("kwargs, flip_test", [(dict(input_size=512), False),
                                               (dict(keep_res=True), True)])
def test_ground_truth_through_evaluate_scores_ap_1(tmp_path, kwargs, flip_test):
    """Model outputs that decode to the ground truth give AP 1 through decode, output_to_image,
    the category mapping and pycocotools; in keep_res mode the two images differ in size (a
    padded batch) and the flip test mirrors the padded batch."""
    ds = CocoDetection(*remapped_deepforest(tmp_path, crop_height=288), **kwargs)
    assert ds.cat_ids == [3, 7, 11]
    model = GroundTruthModel(ds)
    metrics = evaluate(model, ds, device="cpu", batch_size=2, flip_test=flip_test,
                       out_dir=tmp_path / "out")
    assert set(metrics) == set(METRIC_NAMES)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AR100"] == pytest.approx(1.0)
    assert read_json(tmp_path / "out" / "metrics.json") == metrics
    results = read_json(tmp_path / "out" / "detections.json")
    assert len(results) == len(ds.coco.getAnnIds())
    assert {r["category_id"] for r in results} == {ds.coco.anns[a]["category_id"]
                                                  for a in ds.coco.getAnnIds()}
    assert all(set(r) == {"image_id", "category_id", "bbox", "score"} for r in results)
    assert sorted(os.listdir(tmp_path / "out")) == ["detections.json", "metrics.json"]


def test_detections_are_in_original_pixels_and_clipped(tmp_path):
    """A peak decoding to a box partly outside the image is clipped to it, in image pixels."""
    ds = deepforest(input_size=256)  # 400 px images: output_to_image scales by 400 / 64
    # Centre cell (2, 3) + 0.5 on the 64-map, 10 x 4 cells: x from -2.5 to 7.5 cells.
    model = PeakModel(3, [(2, 3, 2, 5.0, 10.0, 4.0)])
    evaluate(model, ds, device="cpu", out_dir=tmp_path)
    results = read_json(tmp_path / "detections.json")
    assert len(results) == 2 and {r["image_id"] for r in results} == {1, 2}
    k = 400 / 64
    np.testing.assert_allclose(results[0]["bbox"], [0.0, 1.5 * k, 7.5 * k, 4 * k], atol=0.01)
    assert results[0]["category_id"] == 3
    assert results[0]["score"] == pytest.approx(float(torch.sigmoid(torch.tensor(5.0))), abs=1e-5)


def test_no_detections_give_zero_ap_without_crash(tmp_path):
    ds = deepforest(input_size=128)
    metrics = evaluate(PeakModel(3, [], background=-1e4), ds, device="cpu", out_dir=tmp_path)
    assert metrics["AP"] == 0.0 and metrics["AP50"] == 0.0 and metrics["AR100"] == 0.0
    assert all(v in (0.0, -1.0) for v in metrics.values())
    assert read_json(tmp_path / "detections.json") == []
    assert read_json(tmp_path / "metrics.json") == metrics


def test_images_without_annotations(tmp_path):
    """An image without annotations is evaluated with the others; a dataset without any
    annotations (an image-info file) gives undefined (-1) metrics and its detections, not a
    crash."""
    ds = CocoDetection(*remapped_deepforest(tmp_path, drop_annotations_of=2), input_size=256)
    assert len(ds) == 2 and ds[1].boxes.shape == (0, 4)
    assert evaluate(GroundTruthModel(ds), ds, device="cpu")["AP"] == pytest.approx(1.0)

    data = read_json(DEEPFOREST_JSON)
    del data["annotations"]
    unlabelled = CocoDetection(DEEPFOREST_DIR, write_json(tmp_path / "info.json", data),
                               input_size=256)
    model = PeakModel(3, [(0, 5, 5, 2.0, 3.0, 3.0)])
    metrics = evaluate(model, unlabelled, device="cpu", out_dir=tmp_path / "out")
    assert all(v == -1.0 for v in metrics.values())
    assert len(read_json(tmp_path / "out" / "detections.json")) == 2


def test_flip_test_equals_hand_computation():
    """hm probabilities and wh averaged with the mirrored pass mirrored back, reg from the plain
    pass, last stack, decoded without logits."""
    model = PooledModel().eval()
    images = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain, mirrored = model(images)[-1], model(images.flip(3))[-1]
        heat = (plain["hm"].sigmoid() + mirrored["hm"].sigmoid().flip(3)) / 2
        wh = (plain["wh"] + mirrored["wh"].flip(3)) / 2
        expected = reference.ctdet_decode(heat, wh, plain["reg"], K=20)
        with eval_mode(model):
            got = detect(model, images, K=20, flip_test=True)
            without = detect(model, images, K=20)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # One hand-checked row: its score is the mean of the two passes' probabilities.
    b, c = 0, int(got[0, 0, 5])
    y, x = int(got[0, 0, 1] + got[0, 0, 3]) // 2, int(got[0, 0, 0] + got[0, 0, 2]) // 2
    score = (torch.sigmoid(plain["hm"][b, c, y, x])
             + torch.sigmoid(mirrored["hm"][b, c, y, -1 - x])) / 2
    assert float(got[0, 0, 4]) == pytest.approx(float(score), abs=1e-6)
    assert not torch.allclose(got, without)  # the mirrored pass changes the result


def test_evaluate_restores_each_module_mode():
    ds = deepforest(input_size=128)
    model = GroundTruthModel(ds).train()
    model.frozen.eval()
    evaluate(model, ds, device="cpu", flip_test=True)
    assert model.modes_seen == [(False, False)]  # one forward, everything in eval mode
    assert model.training and not model.frozen.training
    model.eval()
    evaluate(model, ds, device="cpu")
    assert not model.training


def test_bad_input_is_refused_clearly():
    ds = deepforest(input_size=128)
    with pytest.raises(ValueError, match=r"CocoDetection\(\.\.\., train=False\)"):
        evaluate(GroundTruthModel(ds), deepforest(train=True, input_size=128), device="cpu")
    with pytest.raises(TypeError, match="needs a CocoDetection"):
        evaluate(GroundTruthModel(ds), [ds[0]], device="cpu")
    with pytest.raises(ValueError, match="predicts 2 classes, expected 3"):
        evaluate(PeakModel(2, []), ds, device="cpu")
    with pytest.raises(ValueError, match="the model is on cpu but device=meta"):
        evaluate(GroundTruthModel(ds), ds, device="meta")
