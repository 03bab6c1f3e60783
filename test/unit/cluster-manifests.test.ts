/**
 * The cluster pieces as real tools see them: both kustomize overlays
 * rendered by kustomize and checked object by object (GPU limits, grace
 * periods above the workers' shutdown grace, secrets only by reference,
 * pinned images, non-root users matching the images), and the Dockerfiles
 * linted by hadolint and checked for what their final stages hold.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { TaskQueue } from '../../contracts/task-queues';
import { repoRoot, toolPath } from '../../infra/tools';

/** The parts of a rendered object these checks read. */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown };
}
interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: unknown }>;
  resources?: { limits?: Record<string, string | number> };
  securityContext?: { allowPrivilegeEscalation?: boolean };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
}

const root = repoRoot();
const overlays = ['self-hosted', 'temporal-cloud'] as const;

function render(overlay: string): K8sObject[] {
  const result = spawnSync(toolPath('kustomize'), ['build', path.join(root, 'infra', 'k8s', 'overlays', overlay)], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `kustomize build ${overlay}: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], `${overlay}: rendered YAML parses`);
    return doc.toJS() as K8sObject;
  });
}

const rendered = Object.fromEntries(overlays.map((o) => [o, render(o)])) as Record<
  (typeof overlays)[number],
  K8sObject[]
>;

function one(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0];
}
const podOf = (deployment: K8sObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;
const envOf = (container: Container, name: string) => container.env?.find((e) => e.name === name);
const configOf = (objects: K8sObject[]) => {
  const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('winnow-workers'));
  assert.equal(maps.length, 1, 'one generated worker ConfigMap');
  return maps[0];
};

/** The numeric USER of a Dockerfile's final stage. */
function finalStage(dockerfile: string): { from: string; user: string; body: string } {
  const text = readFileSync(path.join(root, 'infra', 'docker', dockerfile), 'utf8');
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1];
  const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const fromRef = last.split(/\s/)[0];
  const from = fromRef.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? name);
  const users = [...last.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
  return { from, user: users[users.length - 1] ?? 'root', body: last };
}

describe('Kubernetes manifests (rendered by kustomize)', () => {
  for (const overlay of overlays) {
    describe(overlay, () => {
      const objects = rendered[overlay];

      it('the gpu worker asks for one GPU, runs one slot, and its grace period covers its shutdown grace', () => {
        const pod = podOf(one(objects, 'Deployment', 'winnow-gpu'));
        assert.equal(pod.containers.length, 1);
        const [gpu] = pod.containers;
        assert.equal(String(gpu.resources?.limits?.['nvidia.com/gpu']), '1', 'one GPU per pod');
        assert.equal(envOf(gpu, 'WINNOW_GPU_SLOTS')?.value, '1', 'one worker per GPU');
        const shutdown = Number(envOf(gpu, 'WINNOW_SHUTDOWN_GRACE_SECONDS')?.value);
        const grace = pod.terminationGracePeriodSeconds ?? 30;
        assert.ok(
          shutdown > 0 && grace > shutdown,
          `terminationGracePeriodSeconds ${grace} > shutdown grace ${shutdown}`,
        );
        assert.equal(
          Number(envOf(gpu, 'WINNOW_TERMINATION_GRACE_SECONDS')?.value),
          grace,
          'the entrypoint checks the same figure',
        );
      });

      it('the orchestrator has no GPU, two replicas, and the same grace rule', () => {
        const deployment = one(objects, 'Deployment', 'winnow-orchestrator');
        assert.equal((deployment.spec as { replicas: number }).replicas, 2);
        const pod = podOf(deployment);
        const [orchestrator] = pod.containers;
        assert.equal(orchestrator.resources?.limits?.['nvidia.com/gpu'], undefined);
        const shutdown = Number(envOf(orchestrator, 'WINNOW_SHUTDOWN_GRACE_SECONDS')?.value);
        assert.ok((pod.terminationGracePeriodSeconds ?? 30) > shutdown);
      });

      it('images are pinned and the pods run as the images’ non-root users', () => {
        const users = { 'winnow-orchestrator': 'orchestrator.Dockerfile', 'winnow-gpu': 'gpu.Dockerfile' } as const;
        for (const [name, dockerfile] of Object.entries(users)) {
          const pod = podOf(one(objects, 'Deployment', name));
          for (const container of pod.containers) {
            assert.match(container.image, /^[\w.-]+(\/[\w.-]+)+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/, container.image);
            assert.doesNotMatch(container.image, /:latest$/, `${container.image} is not :latest`);
            assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
          }
          assert.equal(pod.securityContext?.runAsNonRoot, true);
          const [uid] = finalStage(dockerfile).user.split(':');
          assert.equal(String(pod.securityContext?.runAsUser), uid, `${name} runs as the ${dockerfile} USER`);
          assert.equal(pod.serviceAccountName, 'winnow-worker');
        }
        const account = one(objects, 'ServiceAccount', 'winnow-worker');
        assert.match(
          (account.metadata as { annotations?: Record<string, string> }).annotations?.[
            'iam.gke.io/gcp-service-account'
          ] ?? '',
          /@.+\.iam\.gserviceaccount\.com$/,
          'GCS through workload identity, no key file',
        );
      });

      it('secrets are never inline: no Secret objects, keys only through secretKeyRef', () => {
        assert.deepEqual(
          objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
          [],
        );
        const secretish = /KEY|TOKEN|PASSWORD|SECRET|CREDENTIAL/i;
        for (const [key, value] of Object.entries(configOf(objects).data ?? {})) {
          assert.ok(!secretish.test(key) || value === '', `ConfigMap key ${key} holds no secret`);
        }
        for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
          for (const container of podOf(deployment).containers) {
            for (const variable of container.env ?? []) {
              if (secretish.test(variable.name) && !/_SECONDS$/.test(variable.name)) {
                assert.equal(variable.value, undefined, `${deployment.metadata.name}: ${variable.name} is not inline`);
                assert.ok(variable.valueFrom?.secretKeyRef, `${variable.name} comes from a Secret`);
              }
            }
          }
        }
      });

      it('storage is gs://, required shared, and metrics are scraped', () => {
        const config = configOf(objects).data ?? {};
        assert.match(config.WINNOW_STORAGE_ROOT, /^gs:\/\//);
        assert.equal(config.WINNOW_REQUIRE_SHARED_STORAGE, '1');
        assert.match(config.WINNOW_METRICS_ADDRESS, /^0\.0\.0\.0:9464$/);
        const monitor = one(objects, 'PodMonitor', 'winnow-workers');
        assert.deepEqual(
          (monitor.spec as { podMetricsEndpoints: Array<{ port: string }> }).podMetricsEndpoints[0].port,
          'metrics',
        );
        for (const name of ['winnow-orchestrator', 'winnow-gpu']) {
          const ports = (
            podOf(one(objects, 'Deployment', name)).containers[0] as {
              ports?: Array<{ name: string; containerPort: number }>;
            }
          ).ports;
          assert.deepEqual(ports, [{ name: 'metrics', containerPort: 9464 }]);
        }
      });

      it('disruption budgets and backlog autoscaling of the gpu queue', () => {
        const gpuBudget = one(objects, 'PodDisruptionBudget', 'winnow-gpu').spec as { maxUnavailable: number };
        assert.equal(gpuBudget.maxUnavailable, 1);
        const orchestratorBudget = one(objects, 'PodDisruptionBudget', 'winnow-orchestrator').spec as {
          minAvailable: number;
        };
        assert.equal(orchestratorBudget.minAvailable, 1);
        const scaler = one(objects, 'ScaledObject', 'winnow-gpu').spec as {
          scaleTargetRef: { name: string };
          minReplicaCount: number;
          maxReplicaCount: number;
          triggers: Array<{ type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }>;
        };
        assert.equal(scaler.scaleTargetRef.name, 'winnow-gpu');
        assert.ok(scaler.minReplicaCount >= 1 && scaler.maxReplicaCount > scaler.minReplicaCount);
        assert.equal(scaler.triggers[0].type, 'temporal');
        assert.equal(scaler.triggers[0].metadata.taskQueue, TaskQueue.gpu, 'scales on the queue the gpu workers poll');
        assert.equal(scaler.triggers[0].metadata.namespace, configOf(objects).data?.TEMPORAL_NAMESPACE);
        assert.equal(scaler.triggers[0].metadata.endpoint, configOf(objects).data?.TEMPORAL_ADDRESS);
      });
    });
  }

  it('self-hosted points at the Helm chart’s frontend; Temporal Cloud uses TLS and an API key from a Secret', () => {
    assert.equal(
      configOf(rendered['self-hosted']).data?.TEMPORAL_ADDRESS,
      'temporal-frontend.temporal.svc.cluster.local:7233',
    );
    const cloud = rendered['temporal-cloud'];
    const config = configOf(cloud).data ?? {};
    assert.equal(config.TEMPORAL_TLS, 'true');
    assert.match(config.TEMPORAL_ADDRESS, /\.tmprl\.cloud:7233$/);
    for (const name of ['winnow-orchestrator', 'winnow-gpu']) {
      const key = envOf(podOf(one(cloud, 'Deployment', name)).containers[0], 'TEMPORAL_API_KEY');
      assert.deepEqual(key?.valueFrom?.secretKeyRef, { name: 'temporal-cloud-api-key', key: 'api-key' }, name);
    }
    const auth = one(cloud, 'TriggerAuthentication', 'temporal-cloud').spec as {
      secretTargetRef: Array<{ parameter: string; name: string }>;
    };
    assert.deepEqual(
      auth.secretTargetRef.map((r) => [r.parameter, r.name]),
      [['apiKey', 'temporal-cloud-api-key']],
    );
    const scaler = one(cloud, 'ScaledObject', 'winnow-gpu').spec as {
      triggers: Array<{ authenticationRef?: { name: string } }>;
    };
    assert.equal(scaler.triggers[0].authenticationRef?.name, 'temporal-cloud');
    const selfHosted = envOf(
      podOf(one(rendered['self-hosted'], 'Deployment', 'winnow-gpu')).containers[0],
      'TEMPORAL_API_KEY',
    );
    assert.equal(selfHosted, undefined, 'no API key self-hosted');
  });
});

describe('Dockerfiles', () => {
  it('hadolint finds nothing in either Dockerfile', () => {
    const files = ['orchestrator.Dockerfile', 'gpu.Dockerfile'].map((f) => path.join(root, 'infra', 'docker', f));
    const result = spawnSync(toolPath('hadolint'), ['--no-color', ...files], { encoding: 'utf8' });
    assert.equal(result.status, 0, `hadolint:\n${result.stdout}${result.stderr}`);
  });

  it('final stages: the right base, a numeric non-root user, no build tools, the entrypoint', () => {
    const orchestrator = finalStage('orchestrator.Dockerfile');
    assert.match(orchestrator.from, /^node:20[\w.-]*-slim$/);
    const gpu = finalStage('gpu.Dockerfile');
    assert.match(gpu.from, /^nvidia\/cuda:12[\w.-]*-runtime-/);
    for (const stage of [orchestrator, gpu]) {
      assert.match(stage.user, /^[1-9]\d*:[1-9]\d*$/, `USER ${stage.user} is numeric and not root`);
      assert.doesNotMatch(stage.body, /apt-get install|build-essential|\bg\+\+|python3-pip|npm ci/, 'no build tools');
      assert.match(stage.body, /^ENTRYPOINT \["\/app\/entrypoint\.sh"\]$/m);
    }
    assert.match(gpu.body, /WINNOW_BACKEND=tfjs-node-gpu/);
  });

  it('.dockerignore keeps build outputs, tools and run state out of the context', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', '.tools', 'state']) assert.ok(ignored.includes(entry), entry);
  });
});
