/** Reading everything a run produced as text, to grep it for secrets. */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Text {
  /** Where the text came from (a bundle path, "stderr", "row kubelogs_CL #3"…). */
  where: string;
  text: string;
}

/** Every file under `dir`, gunzipped when it is gzip. */
export async function directoryTexts(dir: string): Promise<Text[]> {
  const out: Text[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) out.push({ where: relative(dir, p), text: decode(await readFile(p)) });
    }
  };
  await walk(dir);
  return out;
}

/** Bytes as text, gunzipped first when they are gzip. */
export function decode(bytes: Buffer): string {
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

export interface Hit {
  where: string;
  marker: string;
}

/** Every (text, marker) pair where the marker occurs. */
export function hits(texts: readonly Text[], markers: readonly string[]): Hit[] {
  const found: Hit[] = [];
  for (const t of texts) for (const marker of markers) if (marker && t.text.includes(marker)) found.push({ where: t.where, marker });
  return found;
}
