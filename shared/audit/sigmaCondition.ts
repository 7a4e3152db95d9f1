/**
 * Sigma detection conditions, the subset this project evaluates:
 *
 *   selection                        a search identifier
 *   a and b, a or b, not a           precedence not > and > or, left to right
 *   ( ... )                          grouping
 *   1 of selection*, all of sel_*    quantifiers over identifiers matching a pattern (* wildcard)
 *   1 of them, all of them           quantifiers over every identifier
 *
 * Refused, with the construct named: aggregations (`| count() by ... > 5`), `near`, numeric
 * quantifiers other than 1 ("2 of ..."), unknown identifiers, unbalanced parentheses.
 * Hand-written because it is a forty-line recursive-descent parser and no maintained JavaScript
 * Sigma implementation exists to borrow it from.
 */
export type ConditionNode =
  | { type: 'ref'; name: string }
  | { type: 'not'; child: ConditionNode }
  | { type: 'and' | 'or'; children: ConditionNode[] }
  | { type: 'of'; quantifier: 'one' | 'all'; names: string[]; pattern: string };

export class SigmaConditionError extends Error {
  override name = 'SigmaConditionError';
}

type Token = { kind: 'word' | 'lparen' | 'rparen' | 'pipe'; text: string };

function tokenize(condition: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\()|(\))|(\|)|([^\s()|]+))/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < condition.length && (m = re.exec(condition)) !== null) {
    at = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'lparen', text: '(' });
    else if (m[2]) tokens.push({ kind: 'rparen', text: ')' });
    else if (m[3]) tokens.push({ kind: 'pipe', text: '|' });
    else if (m[4]) tokens.push({ kind: 'word', text: m[4] });
    if (m[0] === '') break;
  }
  return tokens;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** Parse a condition against the rule's search identifiers; throws SigmaConditionError naming what is not supported. */
export function parseCondition(condition: string, identifiers: readonly string[]): ConditionNode {
  const tokens = tokenize(condition);
  let i = 0;
  const peek = () => tokens[i];
  const word = (t: Token | undefined, w: string) => t?.kind === 'word' && t.text.toLowerCase() === w;

  const parseOr = (): ConditionNode => {
    const children = [parseAnd()];
    while (word(peek(), 'or')) {
      i++;
      children.push(parseAnd());
    }
    return children.length === 1 ? children[0]! : { type: 'or', children };
  };
  const parseAnd = (): ConditionNode => {
    const children = [parseNot()];
    while (word(peek(), 'and')) {
      i++;
      children.push(parseNot());
    }
    return children.length === 1 ? children[0]! : { type: 'and', children };
  };
  const parseNot = (): ConditionNode => {
    if (word(peek(), 'not')) {
      i++;
      return { type: 'not', child: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const t = peek();
    if (!t) throw new SigmaConditionError('the condition ends where a search identifier was expected');
    if (t.kind === 'pipe') throw new SigmaConditionError('aggregation ("| count() ..."): not supported');
    if (t.kind === 'rparen') throw new SigmaConditionError('unbalanced ")"');
    if (t.kind === 'lparen') {
      i++;
      const inner = parseOr();
      if (peek()?.kind !== 'rparen') throw new SigmaConditionError('unbalanced "(": missing ")"');
      i++;
      return inner;
    }
    const text = t.text;
    const lower = text.toLowerCase();
    if (word(tokens[i + 1], 'of')) {
      if (lower !== '1' && lower !== 'all' && lower !== 'any') throw new SigmaConditionError(`quantifier "${text} of": only "1 of" and "all of" are supported`);
      const target = tokens[i + 2];
      if (target?.kind !== 'word') throw new SigmaConditionError(`"${text} of" needs a search identifier pattern or "them"`);
      i += 3;
      const pattern = target.text;
      const names = pattern.toLowerCase() === 'them' ? [...identifiers] : identifiers.filter((n) => wildcard(pattern).test(n));
      if (names.length === 0) throw new SigmaConditionError(`"${text} of ${pattern}": no search identifier matches ${pattern}`);
      return { type: 'of', quantifier: lower === 'all' ? 'all' : 'one', names, pattern };
    }
    if (['and', 'or', 'of', 'them'].includes(lower)) throw new SigmaConditionError(`unexpected "${text}"`);
    if (lower === 'near') throw new SigmaConditionError('"near": not supported');
    if (!identifiers.includes(text)) throw new SigmaConditionError(`"${text}" is not a search identifier of the detection (have: ${identifiers.join(', ') || 'none'})`);
    i++;
    return { type: 'ref', name: text };
  };

  if (tokens.length === 0) throw new SigmaConditionError('empty condition');
  const node = parseOr();
  const rest = peek();
  if (rest) {
    if (rest.kind === 'pipe') throw new SigmaConditionError('aggregation ("| count() ..."): not supported');
    if (rest.kind === 'rparen') throw new SigmaConditionError('unbalanced ")"');
    if (word(rest, 'near')) throw new SigmaConditionError('"near": not supported');
    throw new SigmaConditionError(`unexpected "${rest.text}" (combine identifiers with and / or)`);
  }
  return node;
}
