import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AksEvidenceError } from '../util/errors.js';

/**
 * The timeline library inlined into every report: vis-timeline's standalone build (it bundles
 * its own vis-data and moment), read from the installed package when a report is written, so
 * the page needs nothing from the network and the library is versioned by package-lock.json.
 */
export interface ReportAssets {
  /** vis-timeline-graph2d.min.js, without its sourceMappingURL comment (a browser would try to fetch the map). */
  timelineScript: string;
  timelineStyle: string;
  /** e.g. "vis-timeline 8.5.4". */
  library: string;
}

let cached: Promise<ReportAssets> | undefined;

async function load(): Promise<ReportAssets> {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('vis-timeline/package.json'));
  } catch (error) {
    throw new AksEvidenceError('ERR_REPORT_ASSETS', 'the vis-timeline package is not installed: run npm install in the aks-evidence folder', { cause: error });
  }
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: string };
  const script = await readFile(join(root, 'standalone', 'umd', 'vis-timeline-graph2d.min.js'), 'utf8');
  const style = await readFile(join(root, 'styles', 'vis-timeline-graph2d.min.css'), 'utf8');
  return {
    timelineScript: script.replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n'),
    timelineStyle: style.replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, ''),
    library: `vis-timeline ${pkg.version ?? 'unknown'}`,
  };
}

/** The inlined library, read once per process. */
export function reportAssets(): Promise<ReportAssets> {
  cached ??= load().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}
