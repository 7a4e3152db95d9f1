import {
  HistoryFileParser,
  HistoryProtocolError,
  HistoryStreamParser,
  shellOfHistoryFile,
  unmetafy,
  userOfHistoryFile,
  type HistoryEntry,
} from '../../shared/sources/commandhistory/historyParse.js';
import { historyFileTrailer } from '../../shared/sources/commandhistory/historyScript.js';

function parseFile(path: string, content: Buffer | string, chunkSize = Infinity): HistoryEntry[] {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const parser = new HistoryFileParser(path);
  const out: HistoryEntry[] = [];
  const step = Math.min(chunkSize, Math.max(1, bytes.length));
  for (let i = 0; i < bytes.length; i += step) out.push(...parser.push(bytes.subarray(i, i + step)));
  out.push(...parser.end());
  return out;
}

function protocol(files: [string, Buffer | string][]): Buffer {
  return Buffer.concat(
    files.flatMap(([path, content]) => {
      const b = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      return [Buffer.from(`@@aks-evidence-file ${b.length} ${path}\n`), b, Buffer.from(historyFileTrailer(b.length))];
    }),
  );
}

function parseStream(bytes: Buffer, chunkSize: number): { files: string[]; entries: [string, string, string, number][] } {
  const files: string[] = [];
  const entries: [string, string, string, number][] = [];
  const parser = new HistoryStreamParser({
    onFile: (path) => files.push(path),
    onEntries: (path, shell, list) => entries.push(...list.map((e): [string, string, string, number] => [path, shell, e.command, e.lineNumber])),
  });
  for (let i = 0; i < bytes.length; i += chunkSize) parser.push(bytes.subarray(i, i + chunkSize));
  parser.end();
  return { files, entries };
}

describe('history file formats', () => {
  test('bash: "#<epoch>" stamps the next command; untimed lines stay untimed', () => {
    const entries = parseFile('/root/.bash_history', 'echo untimed\n#1700000000\nls\n#1700000060\n#1700000120\ncat /etc/shadow\npwd\n#1700000180\n');
    expect(entries).toEqual([
      { command: 'echo untimed', lineNumber: 1 },
      { command: 'ls', lineNumber: 3, commandTime: '2023-11-14T22:13:20.000Z' },
      { command: 'cat /etc/shadow', lineNumber: 6, commandTime: '2023-11-14T22:15:20.000Z' },
      { command: 'pwd', lineNumber: 7 },
    ]);
  });

  test('zsh extended history with multi-line commands, and plain zsh lines', () => {
    const text = ': 1700000000:0;echo one\n: 1700000010:2;cat <<EOF\\\nline a\\\nEOF\n: 1700000020:0;echo trailing\\\\\nplain command\n';
    expect(parseFile('/home/eve/.zsh_history', text)).toEqual([
      { command: 'echo one', lineNumber: 1, commandTime: '2023-11-14T22:13:20.000Z' },
      { command: 'cat <<EOF\nline a\nEOF', lineNumber: 2, commandTime: '2023-11-14T22:13:30.000Z' },
      { command: 'echo trailing\\\nplain command', lineNumber: 5, commandTime: '2023-11-14T22:13:40.000Z' },
    ]);
  });

  test('zsh metafied bytes are restored before decoding', () => {
    // "é" is C3 A9; zsh metafies bytes 0x83-0x9f: "→" is E2 86 92, stored as E2 83 A6 83 B2.
    const stored = Buffer.concat([
      Buffer.from(': 1700000000:0;echo '),
      Buffer.from([0xe2, 0x83, 0xa6, 0x83, 0xb2]),
      Buffer.from(' caf'),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from('\n'),
    ]);
    expect(parseFile('/root/.zsh_history', stored)).toEqual([{ command: 'echo → café', lineNumber: 1, commandTime: '2023-11-14T22:13:20.000Z' }]);
    expect(unmetafy(Buffer.from([0x41, 0x83, 0xa3, 0x42])).equals(Buffer.from([0x41, 0x83, 0x42]))).toBe(true);
  });

  test('ash and sh: one command per line, empty lines skipped but counted, no trailing newline needed', () => {
    expect(parseFile('/root/.ash_history', 'id\n\n#1700000000\nuname -a')).toEqual([
      { command: 'id', lineNumber: 1 },
      { command: '#1700000000', lineNumber: 3 },
      { command: 'uname -a', lineNumber: 4 },
    ]);
    expect(parseFile('/root/.sh_history', 'ls\n')).toEqual([{ command: 'ls', lineNumber: 1 }]);
  });

  test('other history files are recognized by content', () => {
    expect(parseFile('/root/.history', '\n: 1700000000:0;ls\n')).toEqual([{ command: 'ls', lineNumber: 2, commandTime: '2023-11-14T22:13:20.000Z' }]);
    expect(parseFile('/root/.history', '#1700000000\nls\n')).toEqual([{ command: 'ls', lineNumber: 2, commandTime: '2023-11-14T22:13:20.000Z' }]);
    expect(parseFile('/root/.python_history', 'import os\nos.system("id")\n')).toEqual([
      { command: 'import os', lineNumber: 1 },
      { command: 'os.system("id")', lineNumber: 2 },
    ]);
  });

  test('the result does not depend on chunk boundaries', () => {
    const text = '#1700000000\nécho ✓\n: not zsh here\nls\n';
    const whole = parseFile('/root/.bash_history', text);
    for (let size = 1; size < Buffer.byteLength(text); size++) expect(parseFile('/root/.bash_history', text, size)).toEqual(whole);
  });

  test('shell and user from the path', () => {
    expect(shellOfHistoryFile('/root/.bash_history')).toBe('bash');
    expect(shellOfHistoryFile('/home/a/.zhistory')).toBe('zsh');
    expect(shellOfHistoryFile('/home/a/.ash_history')).toBe('ash');
    expect(shellOfHistoryFile('/home/a/.sh_history')).toBe('sh');
    expect(shellOfHistoryFile('/home/a/.mysql_history')).toBe('other');
    expect(userOfHistoryFile('/root/.bash_history')).toBe('root');
    expect(userOfHistoryFile('/home/mallory/.bash_history')).toBe('mallory');
  });
});

describe('history exec output protocol', () => {
  test('files are cut by byte counts, so marker text inside content is just content, at any chunking', () => {
    const tricky = 'echo "@@aks-evidence-file 3 /etc/passwd"\nprintf "日本\\n"\n';
    const bytes = protocol([
      ['/root/.ash_history', tricky],
      ['/home/a b/.bash_history', ''],
      ['/home/bob/.bash_history', '#1700000000\nwhoami'],
    ]);
    const expected = {
      files: ['/root/.ash_history', '/home/a b/.bash_history', '/home/bob/.bash_history'],
      entries: [
        ['/root/.ash_history', 'ash', 'echo "@@aks-evidence-file 3 /etc/passwd"', 1],
        ['/root/.ash_history', 'ash', 'printf "日本\\n"', 2],
        ['/home/bob/.bash_history', 'bash', 'whoami', 2],
      ],
    };
    for (const size of [1, 2, 3, 7, 16, 64, bytes.length]) expect(parseStream(bytes, size)).toEqual(expected);
  });

  test('output that is not the protocol, or ends early, is a protocol error', () => {
    const parser = new HistoryStreamParser({ onEntries: () => undefined });
    expect(() => parser.push(Buffer.from('sh: wc: not found\n'))).toThrow(HistoryProtocolError);

    const truncated = new HistoryStreamParser({ onEntries: () => undefined });
    truncated.push(Buffer.from('@@aks-evidence-file 10 /root/.ash_history\nabc'));
    expect(() => truncated.end()).toThrow('output ended 7 bytes short of /root/.ash_history (10 bytes announced)');

    const badSize = new HistoryStreamParser({ onEntries: () => undefined });
    expect(() => badSize.push(Buffer.from('@@aks-evidence-file  /root/.ash_history\n'))).toThrow(/malformed file header/);

    const noEndMarker = new HistoryStreamParser({ onEntries: () => undefined });
    noEndMarker.push(Buffer.from('@@aks-evidence-file 3 /root/.ash_history\nls\n\n@@aks-evi'));
    expect(() => noEndMarker.end()).toThrow('output ended before the end marker of /root/.ash_history');
  });

  test('a file cleared while it is read is refused by name; its neighbours keep their commands, and nothing of the next file is read as its own', () => {
    // What the script prints when /root/.bash_history had 60 bytes at `wc -c` and 10 at `head -c`:
    // the 10 bytes, its end marker, then the next file. Read by the announced size, the first file
    // would swallow its end marker and the next file's header as commands.
    const before = protocol([['/home/dev/.ash_history', 'id\n']]);
    const shrunk = Buffer.concat([Buffer.from('@@aks-evidence-file 60 /root/.bash_history\n'), Buffer.from('history -c'), Buffer.from(historyFileTrailer(60))]);
    const after = protocol([['/home/ops/.ash_history', 'cat /etc/shadow\n']]);
    for (const [name, bytes] of [
      ['followed by another file', Buffer.concat([before, shrunk, after])],
      ['the last file', Buffer.concat([before, shrunk])],
      [
        'shrunk by a few bytes',
        Buffer.concat([before, Buffer.from('@@aks-evidence-file 14 /root/.bash_history\n'), Buffer.from('history -c'), Buffer.from(historyFileTrailer(14)), after]),
      ],
    ] as const) {
      for (const size of [1, 5, 64, bytes.length]) {
        const entries: string[] = [];
        const parser = new HistoryStreamParser({ onEntries: (path, _shell, list) => entries.push(...list.map((e) => `${path}: ${e.command}`)) });
        const run = () => {
          for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
          parser.end();
        };
        expect({
          name,
          size,
          error: (() => {
            try {
              run();
              return '';
            } catch (e) {
              return String(e);
            }
          })(),
        }).toEqual({ name, size, error: expect.stringContaining('/root/.bash_history changed while it was read') });
        // The file before was whole and kept; nothing of the cleared file, nor of the next, under its name.
        expect(entries).toEqual(['/home/dev/.ash_history: id']);
      }
    }
  });
});
