import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStorageClient, emulatorEndpoint } from '../../domain/storage/gcs-store';

describe('gs:// connection options', () => {
  it('takes the endpoint from the option, else STORAGE_EMULATOR_HOST in any of its usual spellings', () => {
    assert.equal(emulatorEndpoint(undefined, {}), undefined);
    assert.equal(emulatorEndpoint(undefined, { STORAGE_EMULATOR_HOST: '' }), undefined);
    assert.equal(emulatorEndpoint(undefined, { STORAGE_EMULATOR_HOST: 'localhost:4443' }), 'http://localhost:4443');
    assert.equal(
      emulatorEndpoint(undefined, { STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9023/' }),
      'http://127.0.0.1:9023',
    );
    assert.equal(
      emulatorEndpoint(undefined, { STORAGE_EMULATOR_HOST: 'https://gcs.local/storage/v1/' }),
      'https://gcs.local',
    );
    assert.equal(emulatorEndpoint('http://option:1', { STORAGE_EMULATOR_HOST: 'http://env:2' }), 'http://option:1');
  });

  it('points the JSON API and uploads at the same custom endpoint, with retries always on', () => {
    const storage = createStorageClient({ apiEndpoint: 'http://127.0.0.1:4443', retry: { maxRetries: 4 } });
    assert.equal(storage.baseUrl, 'http://127.0.0.1:4443/storage/v1');
    assert.equal(storage.apiEndpoint, 'http://127.0.0.1:4443');
    assert.equal(storage.retryOptions.maxRetries, 4);
    assert.equal(storage.retryOptions.autoRetry, true);
    assert.equal(storage.retryOptions.idempotencyStrategy, 0 /* RetryAlways */);
  });
});
