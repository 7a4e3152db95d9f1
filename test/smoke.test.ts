import { KubeConfig } from '@kubernetes/client-node';
import * as df from 'durable-functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { LogsIngestionClient } from '@azure/monitor-ingestion';

test('runtime is Node 22 and ESM packages import', () => {
  expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  expect(typeof KubeConfig).toBe('function');
  expect(typeof df.app.orchestration).toBe('function');
  expect(typeof BlobServiceClient.fromConnectionString).toBe('function');
  expect(typeof LogsIngestionClient).toBe('function');
});
