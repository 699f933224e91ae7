"""Pascal-VOC XML -> COCO conversion: the DeepForest XML files and edge cases."""

import logging
import os

import pytest
from PIL import Image

from centernet_fast.data import DatasetError, load_coco, read_voc_xml, voc_to_coco
from detection_data import DEEPFOREST_DIR, DEEPFOREST_JSON, read_json

XMLS = [os.path.join(DEEPFOREST_DIR, name) for name in ("OSBS_029.xml", "SOAP_061.xml")]


def test_deepforest_xml_files_convert_to_the_shipped_json(tmp_path):
    out = tmp_path / "instances.json"
    data = voc_to_coco(XMLS, image_dir=DEEPFOREST_DIR, out_file=str(out))
    assert [img["file_name"] for img in data["images"]] == ["OSBS_029.png", "SOAP_061.png"]
    assert [c["name"] for c in data["categories"]] == ["Alive", "Dead", "Tree"]
    per_image = [sum(a["image_id"] == i for a in data["annotations"]) for i in (1, 2)]
    assert per_image == [61, 37]
    # VOC's 1-based inclusive <xmin>203 <xmax>227 is the continuous [202, 227].
    assert data["annotations"][0]["bbox"] == [202.0, 66.0, 25.0, 24.0]
    right = max(a["bbox"][0] + a["bbox"][2] for a in data["annotations"])
    assert right == 400.0  # <xmax>400</xmax> reaches the right edge of the 400-pixel image
    assert read_json(out) == read_json(DEEPFOREST_JSON) == data
    coco, skipped = load_coco(str(out))
    assert len(coco.getAnnIds()) == 98 and skipped == {}


def test_read_voc_xml():
    ann = read_voc_xml(XMLS[1])
    assert ann.filename == "SOAP_061.png" and (ann.width, ann.height) == (400, 400)
    assert len(ann.objects) == 37 and ann.objects[0].name == "Dead"
    assert ann.objects[0].box == (149.0, 105.0, 173.0, 129.0) and not ann.objects[0].difficult


def test_given_categories_skip_other_names(caplog):
    with caplog.at_level(logging.WARNING, logger="centernet_fast.data"):
        data = voc_to_coco(XMLS, image_dir=DEEPFOREST_DIR, categories=["Tree", "Dead"])
    assert data["categories"] == [{"id": 1, "name": "Tree"}, {"id": 2, "name": "Dead"}]
    assert len(data["annotations"]) == 61 + 28
    assert "unknown class name" in caplog.text and "SOAP_061.xml" in caplog.text


def write_xml(path, objects, filename="img.png", size=(50, 40)):
    body = "".join(
        f"<object><name>{name}</name><difficult>{int(difficult)}</difficult>"
        + (f"<bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
           f"<ymax>{b[3]}</ymax></bndbox>" if b else "") + "</object>"
        for name, b, difficult in objects)
    size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height></size>" if size else ""
    path.write_text(f"<annotation><filename>{filename}</filename>{size_xml}{body}</annotation>")
    return str(path)


def test_difficult_coordinates_and_bad_objects(tmp_path, caplog):
    xml = write_xml(tmp_path / "a.xml", [("cat", (1, 1, 50, 40), False),
                                         ("dog", (10, 10, 20, 30), True),
                                         ("dog", (10, 10, 9, 30), False),   # empty
                                         ("dog", None, False)])             # no bndbox
    with caplog.at_level(logging.WARNING, logger="centernet_fast.data"):
        kept = voc_to_coco([xml])
    assert "empty box" in caplog.text and "malformed object" in caplog.text
    assert [a["bbox"] for a in kept["annotations"]] == [[0.0, 0.0, 50.0, 40.0],
                                                        [9.0, 9.0, 11.0, 21.0]]
    assert [a["iscrowd"] for a in kept["annotations"]] == [0, 0]
    crowd = voc_to_coco([xml], difficult="crowd")
    assert [a["iscrowd"] for a in crowd["annotations"]] == [0, 1]
    assert len(voc_to_coco([xml], difficult="drop")["annotations"]) == 1
    zero_based = voc_to_coco([xml], one_based=False)
    assert zero_based["annotations"][0]["bbox"] == [1.0, 1.0, 49.0, 39.0]
    with pytest.raises(ValueError, match="difficult"):
        voc_to_coco([xml], difficult="maybe")


def test_image_lookup_and_size_from_the_file(tmp_path):
    Image.new("RGB", (64, 48)).save(tmp_path / "scan.png")
    xml = write_xml(tmp_path / "scan.xml", [("cat", (5, 5, 10, 10), False)],
                    filename="scan.tif", size=None)
    data = voc_to_coco([xml], image_dir=str(tmp_path))
    assert data["images"] == [{"id": 1, "file_name": "scan.png", "width": 64, "height": 48}]
    with pytest.raises(DatasetError, match="scan.xml: needs <filename> and a positive <size>"):
        voc_to_coco([xml])
    os.remove(tmp_path / "scan.png")
    with pytest.raises(DatasetError, match="scan.xml: no image 'scan.tif'"):
        voc_to_coco([xml], image_dir=str(tmp_path))


def test_unreadable_xml_names_the_file(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<annotation><object>")
    with pytest.raises(DatasetError, match="broken.xml"):
        voc_to_coco([str(broken)])
    other = tmp_path / "other.xml"
    other.write_text("<svg></svg>")
    with pytest.raises(DatasetError, match="other.xml is not a VOC annotation"):
        voc_to_coco([str(other)])
    with pytest.raises(DatasetError, match="missing.xml"):
        voc_to_coco([str(tmp_path / "missing.xml")])
