import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIngestionTarget, parseIngestionTarget, printableEndpoint } from '../../shared/ingestion/config.js';
import { InputError } from '../../shared/util/errors.js';

const ID = 'dcr-0123456789abcdef0123456789abcdef';
const doc = {
  endpoint: 'https://aks-evidence-dce-x1y2.westeurope-1.ingest.monitor.azure.com/',
  tables: { kubelogs_CL: { dcrImmutableId: ID, streamName: 'Custom-kubelogs_CL' } },
};

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('ingestion target document', () => {
  test('parses, applies defaults, strips the trailing slash and freezes', () => {
    const t = parseIngestionTarget(doc);
    expect(t.endpoint).toBe('https://aks-evidence-dce-x1y2.westeurope-1.ingest.monitor.azure.com');
    expect(t.tables['kubelogs_CL']).toEqual({ dcrImmutableId: ID, streamName: 'Custom-kubelogs_CL' });
    expect(t.maxConcurrency).toBe(4);
    expect(t.retry).toEqual({ attempts: 6, maxDelayMs: 30000, baseDelayMs: 1000 });
    expect(t.audience).toBe('https://monitor.azure.com');
    expect(Object.isFrozen(t) && Object.isFrozen(t.tables) && Object.isFrozen(t.retry)).toBe(true);
    const custom = parseIngestionTarget({ ...doc, maxConcurrency: 8, retry: { attempts: 2 }, audience: 'https://monitor.azure.us' });
    expect([custom.maxConcurrency, custom.retry.attempts, custom.retry.maxDelayMs, custom.audience]).toEqual([8, 2, 30000, 'https://monitor.azure.us']);
  });

  test('errors name the field and the fix', () => {
    const http = errorOf(() => parseIngestionTarget({ ...doc, endpoint: 'http://dce.example.com' }));
    expect(http.field).toBe('ingestion target endpoint');
    expect(http.message).toMatch(/https/);

    const sas = errorOf(() => parseIngestionTarget({ ...doc, endpoint: 'https://dce.example.com/?sig=abc' }));
    expect(sas.message).toMatch(/query string/);
    expect(sas.message).not.toMatch(/sig=abc/);

    const id = errorOf(() => parseIngestionTarget({ ...doc, tables: { kubelogs_CL: { dcrImmutableId: 'my-dcr', streamName: 'Custom-kubelogs_CL' } } }));
    expect(id.field).toBe('ingestion target tables.kubelogs_CL.dcrImmutableId');
    expect(id.message).toMatch(/immutable id.*properties\.immutableId/);

    expect(errorOf(() => parseIngestionTarget({ ...doc, tables: { kubelogs_CL: { dcrImmutableId: ID, streamName: 'kubelogs' } } })).message).toMatch(/Custom-<table>/);
    expect(errorOf(() => parseIngestionTarget({ ...doc, tables: {} })).message).toMatch(/no table configured/);
    expect(errorOf(() => parseIngestionTarget({ ...doc, extra: 1 })).message).toMatch(/extra/);
    expect(errorOf(() => parseIngestionTarget({ ...doc, maxConcurrency: 0 })).field).toBe('ingestion target maxConcurrency');
  });

  test('loads from an object, inline JSON, or a file; bad JSON and missing files are InputErrors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ingest-config-'));
    try {
      const file = join(dir, 'target.json');
      await writeFile(file, JSON.stringify(doc));
      for (const spec of [doc, JSON.stringify(doc), file, 'target.json']) {
        const t = await loadIngestionTarget(spec, { cwd: dir });
        expect(t.tables['kubelogs_CL']?.dcrImmutableId).toBe(ID);
      }
      await expect(loadIngestionTarget('{ not json', { cwd: dir })).rejects.toThrow(/not valid JSON/);
      await expect(loadIngestionTarget('missing.json', { cwd: dir })).rejects.toThrow(/cannot read .*missing\.json \(ENOENT\)/);
      await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...doc, endpoint: 'ftp://x' }));
      await expect(loadIngestionTarget('bad.json', { cwd: dir })).rejects.toThrow(/bad\.json endpoint/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('printable endpoint carries no query or credentials', () => {
    expect(printableEndpoint({ endpoint: 'https://dce.example.com' })).toBe('https://dce.example.com');
  });
});
