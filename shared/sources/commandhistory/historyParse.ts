import { AksEvidenceError } from '../../util/errors.js';
import { toRfc3339 } from '../../util/time.js';
import { HISTORY_FILE_MARKER, historyFileTrailer } from './historyScript.js';
import { appendAll } from '../../util/arrays.js';
import { copyBytes, LineSplitter } from '../../util/lines.js';

/**
 * Parsing what the history exec prints (see historyScript.ts), as bytes arrive:
 *   "@@aks-evidence-file <bytes> <path>\n" + exactly <bytes> bytes + "\n@@aks-evidence-end <bytes>\n", repeated.
 * Content is counted, never searched for markers, so a history that contains the marker
 * text cannot confuse the parser. Each file's content is parsed into commands by its
 * shell's format:
 *   bash   "#<epoch>" lines (HISTTIMEFORMAT set) stamp the command on the next line
 *   zsh    ": <epoch>:<elapsed>;<command>" (EXTENDED_HISTORY) or plain lines; a line ending
 *          in "\" continues on the next (an embedded newline); bytes are unmetafied
 *   ash, sh and others: one command per line
 */

export type HistoryShell = 'bash' | 'zsh' | 'ash' | 'sh' | 'other';

export interface HistoryEntry {
  /** The command as recorded (multi-line zsh commands joined with "\n"). */
  command: string;
  /** 1-based line of the command's first line in the file. */
  lineNumber: number;
  /** UTC RFC 3339 time the shell recorded, when it did. */
  commandTime?: string;
}

export class HistoryProtocolError extends AksEvidenceError {
  override name = 'HistoryProtocolError';
  constructor(message: string) {
    super('ERR_HISTORY_PROTOCOL', message);
  }
}

/** The shell a history file belongs to, from its name. */
export function shellOfHistoryFile(path: string): HistoryShell {
  const base = path.slice(path.lastIndexOf('/') + 1);
  switch (base) {
    case '.bash_history':
      return 'bash';
    case '.zsh_history':
    case '.zhistory':
      return 'zsh';
    case '.ash_history':
      return 'ash';
    case '.sh_history':
      return 'sh';
    default:
      return 'other';
  }
}

/** The account a history path belongs to: "root" for /root, the directory name under /home. */
export function userOfHistoryFile(path: string): string {
  if (path.startsWith('/root/')) return 'root';
  const home = /^\/home\/([^/]+)\//.exec(path);
  return home?.[1] ?? '';
}

const BASH_TIMESTAMP = /^#(\d{1,12})$/;
const ZSH_EXTENDED = /^: (\d{1,12}):(\d+);/;
const ZSH_META = 0x83;

function epochToRfc3339(seconds: string): string | undefined {
  const n = Number(seconds);
  if (!Number.isFinite(n)) return undefined;
  const ms = n * 1000;
  if (Math.abs(ms) > 8.64e15) return undefined;
  return toRfc3339(ms);
}

/** zsh stores bytes 0x83-0x9f (and NUL) as 0x83 followed by the byte XOR 0x20. */
export function unmetafy(bytes: Buffer): Buffer {
  if (!bytes.includes(ZSH_META)) return bytes;
  const out = Buffer.allocUnsafe(bytes.length);
  let j = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === ZSH_META && i + 1 < bytes.length) {
      out[j++] = bytes[++i]! ^ 0x20;
    } else {
      out[j++] = b;
    }
  }
  return out.subarray(0, j);
}

/** Parses one history file's lines into commands. Feed bytes with push(); end() flushes. */
export class HistoryFileParser {
  readonly shell: HistoryShell;
  private readonly lines = new LineSplitter(copyBytes);
  private lineNumber = 0;
  private format: 'bash' | 'zsh' | 'plain' | undefined;
  private pendingTime: string | undefined;
  private continuation: { parts: string[]; lineNumber: number; commandTime?: string } | undefined;

  constructor(readonly path: string) {
    this.shell = shellOfHistoryFile(path);
    if (this.shell === 'bash') this.format = 'bash';
    else if (this.shell === 'zsh') this.format = 'zsh';
    else if (this.shell === 'ash' || this.shell === 'sh') this.format = 'plain';
    // 'other' (.history, .python_history, ...): decided by the first non-empty line.
  }

  push(chunk: Buffer): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    for (const line of this.lines.push(chunk)) this.line(line, entries);
    return entries;
  }

  end(): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    const last = this.lines.end();
    if (last !== undefined) this.line(last, entries);
    if (this.continuation) {
      // A trailing backslash on the last line: the command is complete as far as the file goes.
      entries.push(this.finishContinuation(this.continuation));
      this.continuation = undefined;
    }
    return entries;
  }

  private line(bytes: Buffer, out: HistoryEntry[]): void {
    this.lineNumber++;
    if (this.format === undefined) {
      const probe = bytes.toString('latin1');
      if (probe.trim() === '') return;
      this.format = ZSH_EXTENDED.test(probe) ? 'zsh' : BASH_TIMESTAMP.test(probe) ? 'bash' : 'plain';
    }
    const text = (this.format === 'zsh' ? unmetafy(bytes) : bytes).toString('utf8');
    switch (this.format) {
      case 'bash':
        return this.bashLine(text, out);
      case 'zsh':
        return this.zshLine(text, out);
      default:
        if (text !== '') out.push({ command: text, lineNumber: this.lineNumber });
    }
  }

  private bashLine(text: string, out: HistoryEntry[]): void {
    const ts = BASH_TIMESTAMP.exec(text);
    if (ts) {
      // Like bash: a timestamp line stamps the next command; a second one replaces it.
      this.pendingTime = epochToRfc3339(ts[1]!);
      return;
    }
    const time = this.pendingTime;
    this.pendingTime = undefined;
    if (text === '') return;
    out.push({ command: text, lineNumber: this.lineNumber, ...(time ? { commandTime: time } : {}) });
  }

  private zshLine(text: string, out: HistoryEntry[]): void {
    if (this.continuation) {
      this.continuation.parts.push(text);
      if (!text.endsWith('\\')) {
        out.push(this.finishContinuation(this.continuation));
        this.continuation = undefined;
      }
      return;
    }
    let command = text;
    let commandTime: string | undefined;
    const extended = ZSH_EXTENDED.exec(text);
    if (extended) {
      commandTime = epochToRfc3339(extended[1]!);
      command = text.slice(extended[0].length);
    }
    if (command.endsWith('\\')) {
      this.continuation = { parts: [command], lineNumber: this.lineNumber, ...(commandTime ? { commandTime } : {}) };
      return;
    }
    if (command === '' && !extended) return;
    out.push({ command, lineNumber: this.lineNumber, ...(commandTime ? { commandTime } : {}) });
  }

  private finishContinuation(c: { parts: string[]; lineNumber: number; commandTime?: string }): HistoryEntry {
    // zsh writes an embedded newline as "\" + newline: drop the backslash of every continued line.
    const command = c.parts.map((p, i) => (i < c.parts.length - 1 && p.endsWith('\\') ? p.slice(0, -1) : p)).join('\n');
    return { command, lineNumber: c.lineNumber, ...(c.commandTime ? { commandTime: c.commandTime } : {}) };
  }
}

export interface HistoryStreamHandlers {
  onFile?: (path: string, size: number) => void;
  /** The file's content bytes, in order, as they arrive. */
  onFileData?: (path: string, chunk: Buffer) => void;
  /** A file's commands, once the file is read whole (its end marker where its size says). */
  onEntries: (path: string, shell: HistoryShell, entries: HistoryEntry[]) => void;
  onFileEnd?: (path: string, size: number) => void;
}

const MARKER = Buffer.from(HISTORY_FILE_MARKER, 'utf8');
const MAX_HEADER_BYTES = 8192;

interface FileInProgress {
  path: string;
  size: number;
  remaining: number;
  parser: HistoryFileParser;
  /** Commands held until the end marker proves the file whole. */
  entries: HistoryEntry[];
  /** The end marker expected after the content, and how much of it has matched. */
  trailer: Buffer;
  matched: number;
  /** The last trailer-length bytes of content (to tell a file that shrank from an exec cut short). */
  tail: Buffer;
}

/**
 * Streaming parser of the exec output protocol. A file's commands are delivered once its end
 * marker stands exactly where its announced size says: a file that changed while it was read
 * (cleared between `wc -c` and `head -c`) is refused by name, never read into the next file's
 * header and content.
 */
export class HistoryStreamParser {
  private headerParts: Buffer[] = [];
  private headerBytes = 0;
  private current: FileInProgress | undefined;
  private files = 0;

  constructor(private readonly handlers: HistoryStreamHandlers) {}

  /** Files whose header was read so far. */
  get fileCount(): number {
    return this.files;
  }

  /** Feed stdout bytes. Throws HistoryProtocolError on output that is not the protocol. */
  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const current = this.current;
      if (current && current.remaining > 0) {
        const take = Math.min(current.remaining, chunk.length - offset);
        const piece = chunk.subarray(offset, offset + take);
        offset += take;
        current.remaining -= take;
        this.keepTail(current, piece);
        this.handlers.onFileData?.(current.path, piece);
        appendAll(current.entries, current.parser.push(piece));
        continue;
      }
      if (current) {
        const take = Math.min(current.trailer.length - current.matched, chunk.length - offset);
        if (!chunk.subarray(offset, offset + take).equals(current.trailer.subarray(current.matched, current.matched + take))) {
          this.current = undefined;
          throw changedWhileRead(current);
        }
        offset += take;
        current.matched += take;
        if (current.matched === current.trailer.length) this.finishFile();
        continue;
      }
      const newline = chunk.indexOf(0x0a, offset);
      const end = newline === -1 ? chunk.length : newline;
      this.headerParts.push(chunk.subarray(offset, end));
      this.headerBytes += end - offset;
      if (this.headerBytes > MAX_HEADER_BYTES) throw new HistoryProtocolError('unexpected output from the history command (no file header found)');
      if (newline === -1) return;
      offset = newline + 1;
      const header = Buffer.concat(this.headerParts);
      this.headerParts = [];
      this.headerBytes = 0;
      this.startFile(header);
    }
  }

  /**
   * The stream ended. Throws HistoryProtocolError when it ended inside a header or a file. A file
   * cut short keeps the commands read before the cut (named in the error), unless what was read
   * ends with its own end marker: then the file shrank while it was read, and nothing of it is kept.
   */
  end(): void {
    const current = this.current;
    if (current) {
      const { path, size, remaining } = current;
      if (remaining > 0 && current.tail.equals(current.trailer)) {
        this.current = undefined;
        throw changedWhileRead(current);
      }
      this.finishFile();
      if (remaining > 0) throw new HistoryProtocolError(`output ended ${remaining} bytes short of ${path} (${size} bytes announced)`);
      throw new HistoryProtocolError(`output ended before the end marker of ${path}`);
    }
    if (this.headerBytes > 0) throw new HistoryProtocolError('output ended inside a file header');
  }

  private startFile(header: Buffer): void {
    if (!header.subarray(0, MARKER.length).equals(MARKER)) {
      throw new HistoryProtocolError('unexpected output from the history command (no file header found)');
    }
    const rest = header.subarray(MARKER.length).toString('utf8');
    const space = rest.indexOf(' ');
    const sizeText = space === -1 ? rest : rest.slice(0, space);
    const path = space === -1 ? '' : rest.slice(space + 1);
    if (!/^\d+$/.test(sizeText) || path === '') {
      throw new HistoryProtocolError(`malformed file header for "${path || '?'}" (size "${sizeText.slice(0, 20)}")`);
    }
    const size = Number(sizeText);
    this.files++;
    this.current = {
      path,
      size,
      remaining: size,
      parser: new HistoryFileParser(path),
      entries: [],
      trailer: Buffer.from(historyFileTrailer(size), 'utf8'),
      matched: 0,
      tail: Buffer.alloc(0),
    };
    this.handlers.onFile?.(path, size);
  }

  private keepTail(current: FileInProgress, piece: Buffer): void {
    const keep = current.trailer.length;
    current.tail = piece.length >= keep ? Buffer.from(piece.subarray(piece.length - keep)) : Buffer.concat([current.tail, piece]).subarray(-keep);
  }

  private finishFile(): void {
    const current = this.current!;
    this.current = undefined;
    appendAll(current.entries, current.parser.end());
    if (current.entries.length > 0) this.handlers.onEntries(current.path, current.parser.shell, current.entries);
    this.handlers.onFileEnd?.(current.path, current.size - current.remaining);
  }
}

function changedWhileRead(file: FileInProgress): HistoryProtocolError {
  return new HistoryProtocolError(
    `${file.path} changed while it was read: its end marker is not where its ${file.size} bytes announced say (the file shrank or was replaced between measuring and reading it); none of its commands are kept`,
  );
}
