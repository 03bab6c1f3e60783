/** Learning-rate schedules, per epoch (epochs start at 1). Pure. */
export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'step'; /** Epochs after which the rate is multiplied by `factor`. */ milestones: number[]; factor: number }
  | { kind: 'cosine'; /** Floor as a fraction of the base rate. */ minFraction?: number };

export function learningRateAt(base: number, schedule: LrSchedule, epoch: number, totalEpochs: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.factor ** schedule.milestones.filter((m) => epoch > m).length;
    case 'cosine': {
      const floor = base * (schedule.minFraction ?? 0);
      // (epoch - 1) / total, so the last epoch still learns at a small positive rate.
      const progress = (epoch - 1) / Math.max(1, totalEpochs);
      return floor + (base - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}
