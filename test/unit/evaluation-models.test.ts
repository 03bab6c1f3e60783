/**
 * Subset transfer (evaluation.models): the config takes a list of built-in and
 * file models; the result table, `winnow status` (the same table) and the
 * report show one block per evaluation model with that model's accuracies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelLabel, parseSearchConfig } from '../../contracts/config';
import { perEvaluationModel, reportDataFromResult } from '../../client/report/report-data';
import { formatResultTable } from '../../client/result-table';
import type { AccuracySummary } from '../../workflows/search-plan';
import { resultOf } from './report-fixtures';

const acc = (mean: number): AccuracySummary => ({ mean, std: 0, runs: [mean] });

function transferResult() {
  const base = resultOf('file:///tmp/store');
  return resultOf('file:///tmp/store', {
    evaluations: base.evaluations.map((e, k) => ({
      ...e,
      models: [
        { model: 'cnn-small', activeLearning: e.activeLearning, random: e.random },
        { model: 'resnet18-cifar', activeLearning: acc(0.6 + k / 100), random: acc(0.5 + k / 100) },
      ],
    })),
    fullByModel: [base.full, acc(0.777)],
  });
}

describe('evaluation models', () => {
  it('the config takes built-in names and model files, and labels them', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'fashion-mnist' },
      targets: [100],
      evaluation: { models: ['resnet18-cifar', { kind: 'tfjs-layers', uri: '/data/models/wide/model.json' }] },
    });
    assert.ok(parsed.ok);
    const models = parsed.config.evaluation.models!;
    assert.deepEqual(models.map(modelLabel), ['resnet18-cifar', 'wide/model.json']);
    const bad = parseSearchConfig({ dataset: { kind: 'fashion-mnist' }, targets: [100], evaluation: { models: [] } });
    assert.ok(!bad.ok && bad.problems.some((p) => p.startsWith('evaluation.models')), 'an empty list is refused');
  });

  it('takes a built-in model at a width of its own, and refuses a bad width or a detector by its path', () => {
    const parsed = parseSearchConfig({
      dataset: { kind: 'fashion-mnist' },
      targets: [100],
      modelWidth: 0.5,
      evaluation: { models: ['cnn-small', { name: 'cnn-small', width: 2 }] },
    });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.config.evaluation.models!.map(modelLabel), ['cnn-small', 'cnn-small width 2']);
    const bad = parseSearchConfig({
      dataset: { kind: 'fashion-mnist' },
      targets: [100],
      evaluation: {
        models: [
          { name: 'cnn-small', width: 0 },
          { name: 'detector-s4', width: 1 },
        ],
      },
    });
    assert.ok(!bad.ok);
    assert.ok(
      bad.problems.some((p) => p.startsWith('evaluation.models.0')),
      bad.problems.join('; '),
    );
    assert.ok(
      bad.problems.some((p) => /^evaluation\.models\.1: .*detector/.test(p)),
      bad.problems.join('; '),
    );
  });

  it('the result table has one block per evaluation model, with its own accuracies', () => {
    const table = formatResultTable(transferResult());
    assert.match(table, /evaluated with cnn-small\n/);
    assert.match(table, /evaluated with resnet18-cifar \(subsets found by the search model\)/);
    const second = table.slice(table.indexOf('resnet18-cifar'));
    assert.ok(second.includes('60.00') && second.includes('50.00') && second.includes('77.70'), second);
    const single = formatResultTable(resultOf('file:///tmp/store'));
    assert.ok(!single.includes('evaluated with'), 'a search without evaluation.models keeps the one table');
  });

  it("the report's data per model swaps in that model's accuracies", () => {
    const views = perEvaluationModel(reportDataFromResult(transferResult()));
    assert.deepEqual(
      views.map((v) => v.model),
      ['cnn-small', 'resnet18-cifar'],
    );
    assert.equal(views[1].data.evaluations[0].activeLearning.mean, 0.6);
    assert.equal(views[1].data.full?.mean, 0.777);
    assert.deepEqual(
      perEvaluationModel(reportDataFromResult(resultOf('file:///tmp/store'))).map((v) => v.model),
      [undefined],
    );
  });
});
