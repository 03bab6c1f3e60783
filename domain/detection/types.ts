/**
 * Detection's shared vocabulary: boxes, ground-truth objects and predicted
 * detections, all in pixels of the model's fixed input (COCO's [x, y, w, h]
 * order, x and y the top-left corner). Categories are contiguous indices
 * 0..numClasses-1; a data set maps its own ids (COCO category_id) to them.
 * Pure types, no I/O.
 */

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface GroundTruthObject extends Box {
  /** Contiguous category index, 0..numClasses-1. */
  category: number;
  /** COCO's iscrowd: matched but never counted as a miss or a false positive. */
  crowd?: boolean;
}

export interface Detection extends Box {
  category: number;
  /** Confidence in [0, 1]; higher ranks first. */
  score: number;
}

/** One image's ground truth; imageId is the data set's own id (COCO image id), kept for reports. */
export interface ImageAnnotations {
  imageId: number;
  objects: GroundTruthObject[];
}
