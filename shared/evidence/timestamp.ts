/**
 * RFC 3161 trusted timestamps of a manifest hash: ask a Time-Stamping Authority to sign
 * "this SHA-256 existed at this time", keep its answer beside the manifest as
 * manifest.json.tsr (the DER TimeStampResp, what `openssl ts -reply` writes and
 * `openssl ts -verify` reads), and check one later. ASN.1 and CMS are parsed and verified by
 * pkijs/asn1js (PeculiarVentures' maintained PKI libraries): no hand-written DER here.
 */
import * as asn1js from 'asn1js';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';
import { AksEvidenceError, describeError, redactUrl } from '../util/errors.js';
import { toRfc3339 } from '../util/time.js';

export const TIMESTAMP_PATH = 'manifest.json.tsr';

const SHA256_OID = '2.16.840.1.101.3.4.2.1';
const TST_INFO_OID = '1.2.840.113549.1.9.16.1.4';
const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
const EKU_OID = '2.5.29.37';
const TIME_STAMPING_EKU = '1.3.6.1.5.5.7.3.8';

let engineReady = false;
/** pkijs needs a WebCrypto engine; Node's is the standard one. */
function ensureEngine(): void {
  if (engineReady) return;
  pkijs.setEngine('nodeWebCrypto', new pkijs.CryptoEngine({ name: 'nodeWebCrypto', crypto: webcrypto }));
  engineReady = true;
}

/** The TSA refused, could not be reached, or answered something that is not a valid timestamp of our hash. */
export class TimestampError extends AksEvidenceError {
  override name = 'TimestampError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TIMESTAMP', message, options);
  }
}

export interface RequestTimestampOptions {
  /** The TSA's URL (RFC 3161 over HTTP: POST application/timestamp-query). */
  url: string;
  /** Hex SHA-256 to timestamp (the manifest's). */
  sha256: string;
  /** Time budget in ms. Default 30000. */
  timeoutMs?: number;
  abortSignal?: AbortSignal;
}

/**
 * Ask the TSA for a timestamp of `sha256` (with a random nonce and the TSA's certificate
 * requested in the token). Returns the DER TimeStampResp after checking it is granted, names
 * our hash and echoes our nonce. Throws TimestampError otherwise.
 */
export async function requestTimestamp(options: RequestTimestampOptions): Promise<Uint8Array> {
  ensureEngine();
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0] ?? 0) & 0x7f; // a positive INTEGER
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_OID }),
      hashedMessage: new asn1js.OctetString({ valueHex: Buffer.from(options.sha256, 'hex') }),
    }),
    nonce: new asn1js.Integer({ valueHex: nonce }),
    certReq: true,
  });
  const body = Buffer.from(request.toSchema().toBER(false));
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.abortSignal ? [options.abortSignal] : [])]);
  let response: Response;
  try {
    response = await fetch(options.url, { method: 'POST', headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' }, body, signal });
  } catch (error) {
    throw new TimestampError(`the time-stamping authority at ${redactUrl(options.url)} could not be reached: ${describeError(error)}`, { cause: error });
  }
  const der = new Uint8Array(await response.arrayBuffer());
  if (!response.ok) throw new TimestampError(`the time-stamping authority at ${redactUrl(options.url)} answered HTTP ${response.status}`);
  const parsed = parseResponse(der);
  const token = parsed.tstInfo;
  if (Buffer.from(token.messageImprint.hashedMessage.valueBlock.valueHexView).toString('hex') !== options.sha256) {
    throw new TimestampError(`the time-stamping authority at ${redactUrl(options.url)} timestamped another hash than the one sent`);
  }
  if (!token.nonce || Buffer.from(token.nonce.valueBlock.valueHexView).toString('hex') !== nonce.toString('hex').replace(/^(00)+(?=.)/, '')) {
    // asn1js may drop leading zero octets of the nonce; compare as numbers.
    if (!token.nonce || BigInt(`0x${Buffer.from(token.nonce.valueBlock.valueHexView).toString('hex') || '0'}`) !== BigInt(`0x${nonce.toString('hex')}`)) {
      throw new TimestampError(`the time-stamping authority at ${redactUrl(options.url)} did not echo the request's nonce (a replayed answer?)`);
    }
  }
  return der;
}

interface ParsedResponse {
  signedData: pkijs.SignedData;
  tstInfo: pkijs.TSTInfo;
}

function parseResponse(der: Uint8Array): ParsedResponse {
  ensureEngine();
  let resp: pkijs.TimeStampResp;
  try {
    resp = pkijs.TimeStampResp.fromBER(der);
  } catch (error) {
    throw new TimestampError(`not an RFC 3161 TimeStampResp: ${describeError(error)}`, { cause: error });
  }
  const status = resp.status.status;
  if (status !== pkijs.PKIStatus.granted && status !== pkijs.PKIStatus.grantedWithMods) {
    const text = resp.status.statusStrings?.map((s) => s.valueBlock.value).join('; ');
    throw new TimestampError(`the time-stamping authority refused (PKIStatus ${status}${text ? `: ${text}` : ''})`);
  }
  if (!resp.timeStampToken || resp.timeStampToken.contentType !== SIGNED_DATA_OID) throw new TimestampError('the timestamp response carries no signed token');
  let signedData: pkijs.SignedData;
  let tstInfo: pkijs.TSTInfo;
  try {
    signedData = new pkijs.SignedData({ schema: resp.timeStampToken.content });
    const content = signedData.encapContentInfo;
    if (content.eContentType !== TST_INFO_OID || !content.eContent) throw new Error(`the token's content is ${content.eContentType}, not TSTInfo`);
    tstInfo = pkijs.TSTInfo.fromBER(content.eContent.getValue());
  } catch (error) {
    if (error instanceof TimestampError) throw error;
    throw new TimestampError(`the timestamp token is malformed: ${describeError(error)}`, { cause: error });
  }
  return { signedData, tstInfo };
}

export interface TimestampCheck {
  /** passed: signature valid, imprint = the manifest hash, TSA certificate chains to the trusted CA. */
  status: 'passed' | 'failed' | 'not-configured';
  detail: string;
  /** The TSA's time for the token, UTC RFC 3339. */
  genTime?: string;
  /** The signing certificate's subject. */
  tsa?: string;
  serialNumber?: string;
  policy?: string;
}

/**
 * Check a stored timestamp against the manifest's bytes: the token must be granted, its message
 * imprint must be SHA-256 of exactly this hash, its CMS signature must verify, and — with
 * `trustedCaPem` — its signing certificate must chain to that CA at the token's time and be
 * a time-stamping certificate. Without a CA the token is only self-consistent: the TSA's
 * identity is unchecked, and the result says so ('not-configured', unless something fails).
 */
export async function checkTimestamp(der: Uint8Array, manifest: Uint8Array, options: { trustedCaPem?: string } = {}): Promise<TimestampCheck> {
  ensureEngine();
  const sha256 = createHash('sha256').update(manifest).digest('hex');
  let parsed: ParsedResponse;
  try {
    parsed = parseResponse(der);
  } catch (error) {
    return { status: 'failed', detail: describeError(error) };
  }
  const { signedData, tstInfo } = parsed;
  const genTime = toRfc3339(tstInfo.genTime);
  const facts = { genTime, serialNumber: Buffer.from(tstInfo.serialNumber.valueBlock.valueHexView).toString('hex'), policy: tstInfo.policy };
  const imprint = Buffer.from(tstInfo.messageImprint.hashedMessage.valueBlock.valueHexView).toString('hex');
  if (tstInfo.messageImprint.hashAlgorithm.algorithmId !== SHA256_OID) {
    return { status: 'failed', detail: `the token's imprint is not a SHA-256 (${tstInfo.messageImprint.hashAlgorithm.algorithmId})`, ...facts };
  }
  if (imprint !== sha256) return { status: 'failed', detail: `the token timestamps ${imprint}, not the manifest's sha256 ${sha256}`, ...facts };

  const trustedCerts: pkijs.Certificate[] = [];
  if (options.trustedCaPem) {
    try {
      for (const der of pemBlocks(options.trustedCaPem)) trustedCerts.push(pkijs.Certificate.fromBER(der));
    } catch (error) {
      throw new TimestampError(`the TSA CA certificate is not a PEM certificate: ${describeError(error)}`, { cause: error });
    }
    if (trustedCerts.length === 0) throw new TimestampError('the TSA CA file holds no PEM certificate');
  }
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signedData.verify({
      signer: 0,
      extendedMode: true,
      checkChain: trustedCerts.length > 0,
      trustedCerts,
      checkDate: tstInfo.genTime,
      // pkijs checks the token's imprint against the data itself (the manifest's bytes).
      data: new Uint8Array(manifest).buffer,
    });
  } catch (error) {
    const e = error as Partial<pkijs.SignedDataVerifyResult> & { message?: string };
    const what =
      e.signatureVerified === false ? 'its signature does not verify' : trustedCerts.length ? 'its signing certificate does not chain to the trusted TSA CA' : 'it does not verify';
    return { status: 'failed', detail: `the timestamp token is not valid: ${what} (${e.message ?? describeError(error)})`, ...facts };
  }
  const signer = result.signerCertificate ?? undefined;
  const tsa = signer ? signer.subject.typesAndValues.map((t) => `${shortName(t.type)}=${String(t.value.valueBlock.value)}`).join(', ') : undefined;
  if (result.signatureVerified !== true) return { status: 'failed', detail: 'the timestamp token signature does not verify', ...facts, ...(tsa ? { tsa } : {}) };
  if (trustedCerts.length === 0) {
    return {
      status: 'not-configured',
      detail: `a timestamp token of this manifest from ${genTime} is present and its signature verifies, but the TSA is not checked: give the TSA's CA certificate (--tsa-ca FILE)`,
      ...facts,
      ...(tsa ? { tsa } : {}),
    };
  }
  if (result.signerCertificateVerified !== true)
    return { status: 'failed', detail: 'the timestamp token signing certificate does not chain to the trusted TSA CA', ...facts, ...(tsa ? { tsa } : {}) };
  if (signer && !isTimeStampingCertificate(signer)) {
    return {
      status: 'failed',
      detail: 'the token was signed by a certificate that is not a time-stamping certificate (extended key usage timeStamping missing)',
      ...facts,
      ...(tsa ? { tsa } : {}),
    };
  }
  return {
    status: 'passed',
    detail: `timestamped at ${genTime} by ${tsa ?? 'the TSA'}; imprint matches the manifest; chains to the trusted TSA CA`,
    ...facts,
    ...(tsa ? { tsa } : {}),
  };
}

function isTimeStampingCertificate(cert: pkijs.Certificate): boolean {
  const ext = cert.extensions?.find((e) => e.extnID === EKU_OID);
  const usages = (ext?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  return usages.includes(TIME_STAMPING_EKU);
}

function pemBlocks(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

const NAMES: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };
function shortName(oid: string): string {
  return NAMES[oid] ?? oid;
}
