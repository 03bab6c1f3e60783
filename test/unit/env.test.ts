import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionSettings, readEnv } from '../../infra/env';

describe('connection settings from the environment', () => {
  it('defaults to a local dev server without TLS', () => {
    assert.deepEqual(connectionSettings(readEnv({})), {
      address: 'localhost:7233',
      namespace: 'default',
      apiKey: undefined,
      tls: undefined,
    });
  });

  it('turns TLS on for an API key (Temporal Cloud)', () => {
    const s = connectionSettings(
      readEnv({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' }),
    );
    assert.equal(s.apiKey, 'k');
    assert.ok(s.tls && typeof s.tls === 'object');
  });

  it('names the problem with a half-configured client certificate', () => {
    assert.throws(
      () => readEnv({ TEMPORAL_TLS_CERT: '/x.pem' }),
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/,
    );
    assert.throws(
      () => connectionSettings(readEnv({ TEMPORAL_TLS_CERT: '/nope.pem', TEMPORAL_TLS_KEY: '/nope.key' })),
      /TEMPORAL_TLS_CERT=\/nope.pem: cannot read it/,
    );
    assert.throws(() => readEnv({ TEMPORAL_TLS: 'yes' }), /TEMPORAL_TLS/);
  });
});
