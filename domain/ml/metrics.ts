/** Classification metrics from probabilities and labels. Pure. */
export interface ClassificationMetrics {
  samples: number;
  accuracy: number;
  /** Mean negative log-likelihood of the true class. */
  loss: number;
  perClassAccuracy: number[];
}

export function classificationMetrics(
  probabilities: Float32Array,
  labels: Int32Array,
  numClasses: number,
): ClassificationMetrics {
  const n = labels.length;
  if (probabilities.length !== n * numClasses) {
    throw new Error(
      `metrics: ${n} labels x ${numClasses} classes need ${n * numClasses} probabilities, got ${probabilities.length}`,
    );
  }
  const hits = new Float64Array(numClasses);
  const totals = new Float64Array(numClasses);
  let correct = 0;
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probabilities[row + k] > probabilities[row + best]) best = k;
    const label = labels[i];
    totals[label]++;
    if (best === label) {
      correct++;
      hits[label]++;
    }
    nll -= Math.log(Math.max(probabilities[row + label], 1e-12));
  }
  return {
    samples: n,
    accuracy: n === 0 ? 0 : correct / n,
    loss: n === 0 ? 0 : nll / n,
    perClassAccuracy: Array.from(hits, (hit, k) => (totals[k] === 0 ? 0 : hit / totals[k])),
  };
}
