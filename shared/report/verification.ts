import type { Manifest, ProtectionReport } from '../evidence/types.js';
import type { AnchorResult, VerifyReport } from '../evidence/verify.js';
import type { VerificationCheck, VerificationSection } from './types.js';

/**
 * The verification section of a report: a list of named checks, each passed / failed /
 * not configured (or not checked) with one line of detail. A verify result that already
 * carries `checks` in that shape (custody chain, anchors) is rendered as it is; today's
 * VerifyReport is translated here, so the report needs no change when verify grows.
 */

/** A verify result, with the named checks a richer verifier may already provide. */
export type VerifyResultLike = VerifyReport & { checks?: VerificationCheck[] };

function protectionCheck(protection: ProtectionReport | undefined): VerificationCheck {
  if (!protection) return { id: 'protection', name: 'Write protection (WORM)', status: 'warning', detail: 'the store could not report its protection' };
  const worm = protection.versionLevelImmutability;
  const notes = protection.notes.length ? `; ${protection.notes.join(' ')}` : '';
  if (worm === true)
    return { id: 'protection', name: 'Write protection (WORM)', status: 'passed', detail: `version-level immutability is enabled on the container (${protection.store})${notes}` };
  if (worm === 'unknown')
    return { id: 'protection', name: 'Write protection (WORM)', status: 'warning', detail: `immutability could not be read from ${protection.store}${notes}` };
  return { id: 'protection', name: 'Write protection (WORM)', status: 'not-configured', detail: `no immutability policy on ${protection.store}${notes}` };
}

function overall(checks: readonly VerificationCheck[], ok: boolean): VerificationSection['status'] {
  if (!ok || checks.some((c) => c.status === 'failed')) return 'failed';
  return checks.some((c) => c.status === 'passed') ? 'passed' : 'not-checked';
}

/** A verify result → the report's verification section. */
export function verificationFromVerifyResult(report: VerifyResultLike): VerificationSection {
  const checks: VerificationCheck[] = report.checks ? [...report.checks] : translateChecks(report);
  const status = overall(checks, report.ok);
  const failed = checks.filter((c) => c.status === 'failed').length;
  const headline =
    status === 'passed'
      ? `Verified: ${report.artifacts.length} artifact(s) match the sealed manifest${report.manifestSha256 ? ` (SHA-256 ${report.manifestSha256})` : ''}.`
      : `Verification FAILED: ${failed || report.problems.length} check(s) failed. The bundle is not as it was sealed; see the problems below.`;
  return {
    status,
    headline,
    verifiedAt: report.verifiedAt,
    location: report.location,
    ...(report.manifestSha256 ? { manifestSha256: report.manifestSha256 } : {}),
    checks,
    problems: [...report.problems],
    warnings: [...report.warnings],
  };
}

const ANCHOR_NAMES: Record<string, string> = {
  'expected-sha256': 'Independently recorded hash',
  'rfc3161-timestamp': 'Trusted timestamp (RFC 3161)',
  'log-analytics': 'Log Analytics custody row',
  worm: 'Write protection (WORM)',
};

function anchorCheck(anchor: AnchorResult): VerificationCheck {
  return {
    id: `anchor-${anchor.anchor}`,
    name: ANCHOR_NAMES[anchor.anchor] ?? anchor.anchor,
    status: anchor.status === 'unknown' ? 'warning' : anchor.status,
    detail: anchor.detail,
  };
}

function translateChecks(report: VerifyReport): VerificationCheck[] {
  const checks: VerificationCheck[] = [];
  const manifestParsed = report.runId !== undefined;
  checks.push({
    id: 'manifest-hash',
    name: 'Manifest hash',
    status: report.manifestHashMatches ? 'passed' : 'failed',
    detail: report.manifestHashMatches
      ? `manifest.json has SHA-256 ${report.manifestSha256}, as manifest.json.sha256 records`
      : report.manifestSha256
        ? `manifest.json has SHA-256 ${report.manifestSha256}; manifest.json.sha256 records ${report.manifestRecordedSha256 ?? 'nothing readable'}`
        : 'manifest.json is missing: the run was never sealed, or the manifest was removed',
  });
  const custody = report.custody;
  checks.push({
    id: 'custody',
    name: 'Custody chain',
    status: custody.chainIntact && report.sealed ? 'passed' : 'failed',
    detail: !custody.chainIntact
      ? `the chain of ${custody.records} custody record(s) is broken (named below)`
      : !report.sealed
        ? `${custody.records} custody record(s), intact, but no manifest-sealed record seals this manifest${custody.head ? ` (last step: ${custody.head.step})` : ''}`
        : `${custody.records} record(s) from the run's claim to the seal, each carrying the hash of the one before; the seal record (#${custody.sealRecord?.seq}) carries this manifest's hash${report.interrupted ? '; sealed as an interrupted run' : ''}`,
  });
  const bad = report.artifacts.filter((a) => a.status !== 'ok');
  const missing = bad.filter((a) => a.status === 'missing').length;
  checks.push({
    id: 'artifacts',
    name: 'Artifact hashes',
    status: !manifestParsed ? 'not-checked' : bad.length === 0 ? 'passed' : 'failed',
    detail: !manifestParsed
      ? 'no readable manifest to check artifacts against'
      : bad.length === 0
        ? `all ${report.artifacts.length} artifact(s) listed in the manifest re-hashed: SHA-256 and size match`
        : `${bad.length} of ${report.artifacts.length} artifact(s) do not match: ${missing} missing, ${bad.length - missing} altered (named below)`,
  });
  checks.push({
    id: 'unlisted-files',
    name: 'Files not in the manifest',
    status: report.unexpected.length === 0 ? 'passed' : 'failed',
    detail:
      report.unexpected.length === 0
        ? `none: every file is listed in the manifest${report.excluded.length ? ` or is one of ${report.excluded.length} known derived file(s) (ingestion bookkeeping)` : ''}`
        : `${report.unexpected.length} file(s) nothing accounts for: ${report.unexpected.slice(0, 5).join(', ')}${report.unexpected.length > 5 ? ', …' : ''}`,
  });
  const inc = report.increments;
  if (inc) {
    // Verify's problems about increments name them (INCREMENT n, never sealed: preservation …).
    const incProblems = report.problems.filter((p) => /^INCREMENT \d+|preservation interrupted|increments\//.test(p)).length;
    const lost = inc.unsealed.filter((u) => u.namedLost).length;
    checks.push({
      id: 'increments',
      name: 'Preservation increments',
      status: incProblems ? 'failed' : lost || inc.gaps.length ? 'warning' : 'passed',
      detail: `${inc.sealed} sealed segment(s)${inc.covered ? ` from ${inc.covered.from} to ${inc.covered.to}` : ''}, ${inc.artifacts} artifact(s) re-hashed; ${lost} lost (named with their time range), ${inc.gaps.length} gap(s)${inc.ended ? `; window ended (${inc.ended.reason})` : '; window not ended'}${incProblems ? `; ${incProblems} problem(s) (named below)` : ''}`,
    });
  }
  for (const anchor of report.anchors) checks.push(anchorCheck(anchor));
  if (!report.anchors.some((a) => a.anchor === 'worm')) checks.push(protectionCheck(report.protection));
  return checks;
}

/**
 * The section of a report written at sealing: it sits inside the bundle it describes, before
 * the manifest that lists it, so it cannot vouch for the bundle. It says what was recorded
 * and how to verify.
 */
export function verificationAtSealing(manifest: Pick<Manifest, 'artifacts' | 'protection'>, location: string): VerificationSection {
  const bytes = manifest.artifacts.reduce((n, a) => n + a.bytes, 0);
  return {
    status: 'not-checked',
    headline:
      'Written at sealing, inside the bundle: this report cannot verify the bundle that contains it. ' +
      'Verify the bundle with aks-evidence verify, against the manifest SHA-256 kept outside it (run status, incident comment).',
    location,
    checks: [
      {
        id: 'artifacts',
        name: 'Artifact hashes',
        status: 'not-checked',
        detail: `${manifest.artifacts.length} artifact(s), ${bytes.toLocaleString('en-US')} bytes, each hashed (SHA-256) while it was written; manifest.json lists them with this report`,
      },
      {
        id: 'manifest-hash',
        name: 'Manifest hash',
        status: 'not-checked',
        detail:
          'manifest.json is written after this report (it lists this report and its SHA-256): check it with aks-evidence verify <bundle>, or write a verified report with aks-evidence report <bundle>',
      },
      protectionCheck(manifest.protection),
    ],
    problems: [],
    warnings: [],
  };
}
