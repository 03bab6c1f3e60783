/** A running search's progress as a few text lines with bars, for `winnow watch`. Pure. */
import type { SearchProgress } from '../../workflows/definitions';

export function bar(done: number, total: number, width = 24): string {
  if (total <= 0) return `[${' '.repeat(width)}]`;
  const filled = Math.max(0, Math.min(width, Math.round((done / total) * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}

export function progressLines(p: SearchProgress): string[] {
  const state = p.paused ? 'paused' : p.stopping ? `${p.phase} (stopping after this round)` : p.phase;
  const pool = p.poolSize ? ` of ${p.poolSize}` : '';
  const lines = [
    `${p.searchId}  round ${p.round}  ${state}`,
    `subset    ${p.subsetSize}${pool}  targets ${p.targets.join(', ')}`,
    `members   ${bar(p.membersTrained, p.members)} ${p.membersTrained}/${p.members} trained`,
    `shards    ${bar(p.shardsScored, p.shards)} ${p.shardsScored}/${p.shards} scored`,
  ];
  const last = p.evaluations.at(-1);
  if (last) {
    // Detection rows carry mAP@.5 beside their mAP@[.5:.95].
    const metric = last.detection ? 'mAP ' : '';
    lines.push(
      `evaluated ${p.evaluations.length} size(s); last: ${last.size} samples, AL ${metric}${(100 * last.activeLearning.mean).toFixed(2)}%${last.random ? `, random ${metric}${(100 * last.random.mean).toFixed(2)}%` : ''}`,
    );
  }
  lines.push(
    `ETA       ${p.etaSeconds === undefined ? 'after the first round' : formatDuration(p.etaSeconds)}${p.computeBackend ? `  backend ${p.computeBackend}` : ''}`,
  );
  return lines;
}
