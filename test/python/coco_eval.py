"""Evaluates COCO detection results with pycocotools' COCOeval (bbox) and prints the numbers as JSON.

    coco_eval.py GROUND_TRUTH.json DETECTIONS.json

GROUND_TRUTH.json is a COCO annotation file (images, annotations, categories);
DETECTIONS.json a COCO results list ({image_id, category_id, bbox, score}).
Prints {"stats": [12 numbers], "perCategory": [{"categoryId", "ap", "ap50",
"ap75", "ar100"}]} on stdout, -1 where COCOeval has no value; COCOeval's own
progress lines go to stderr. test/unit/detection-pycocotools.test.ts runs it
with the Python that `npm run tools` installs (infra/install-tools.sh).
"""
import contextlib
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def mean_present(values):
    present = values[values > -1]
    return float(np.mean(present)) if present.size else -1.0


def main(gt_path, dt_path):
    with contextlib.redirect_stdout(sys.stderr):
        gt = COCO(gt_path)
        with open(dt_path) as f:
            results = json.load(f)
        if results:
            dt = gt.loadRes(results)
        else:  # loadRes cannot read an empty list
            dt = COCO()
            dt.dataset = {'images': gt.dataset['images'], 'categories': gt.dataset['categories'], 'annotations': []}
            dt.createIndex()
        evaluation = COCOeval(gt, dt, 'bbox')
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval['precision']  # T x R x K x A x M
    recall = evaluation.eval['recall']  # T x K x A x M
    per_category = [
        {
            'categoryId': int(cat_id),
            'ap': mean_present(precision[:, :, k, 0, -1]),
            'ap50': mean_present(precision[0, :, k, 0, -1]),
            'ap75': mean_present(precision[5, :, k, 0, -1]),
            'ar100': mean_present(recall[:, k, 0, -1]),
        }
        for k, cat_id in enumerate(evaluation.params.catIds)
    ]
    json.dump({'stats': [float(s) for s in evaluation.stats], 'perCategory': per_category}, sys.stdout)
    print()


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
