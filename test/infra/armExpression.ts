/**
 * A parser and a small evaluator for ARM template expressions, for the template tests: they
 * check that every expression parses, names only real ARM functions, references only declared
 * parameters/variables/resources, and they evaluate the parts a deployment would compute
 * (names, app settings, role scopes) with stubbed reference() results.
 *
 * Grammar (ARM template expression syntax):
 *   expr    := primary ( '.' ident | '[' expr ']' )*
 *   primary := 'string' | number | ident '(' [ expr (',' expr)* ] ')'
 */
import { createHash } from 'node:crypto';

export type Ast =
  | { kind: 'str'; value: string }
  | { kind: 'num'; value: number }
  | { kind: 'call'; name: string; args: Ast[] }
  | { kind: 'prop'; target: Ast; name: string }
  | { kind: 'index'; target: Ast; index: Ast };

/** True when a template string is an expression (`[...]`, not the `[[` escape). */
export function isExpression(s: string): boolean {
  return s.startsWith('[') && !s.startsWith('[[') && s.endsWith(']');
}

export function parseExpression(text: string): Ast {
  let i = 0;
  const fail = (msg: string): never => {
    throw new SyntaxError(`${msg} at ${i} in: ${text}`);
  };
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!m) return fail('identifier expected');
    i += m[0].length;
    return m[0];
  };
  const primary = (): Ast => {
    ws();
    const ch = text[i];
    if (ch === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      return { kind: 'str', value };
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return { kind: 'num', value: Number(num[0]) };
    }
    const name = ident();
    ws();
    if (text[i] !== '(') fail(`'(' expected after ${name}`);
    i++;
    const args: Ast[] = [];
    ws();
    if (text[i] === ')') {
      i++;
    } else {
      for (;;) {
        args.push(expression());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ')') {
          i++;
          break;
        }
        fail("',' or ')' expected");
      }
    }
    return { kind: 'call', name, args };
  };
  const expression = (): Ast => {
    let node = primary();
    for (;;) {
      ws();
      if (text[i] === '.') {
        i++;
        node = { kind: 'prop', target: node, name: ident() };
      } else if (text[i] === '[') {
        i++;
        const index = expression();
        ws();
        if (text[i] !== ']') fail("']' expected");
        i++;
        node = { kind: 'index', target: node, index };
      } else {
        return node;
      }
    }
  };
  const ast = expression();
  ws();
  if (i !== text.length) fail('unexpected text');
  return ast;
}

/** Every call in an expression. */
export function calls(ast: Ast): { name: string; args: Ast[] }[] {
  switch (ast.kind) {
    case 'call':
      return [{ name: ast.name, args: ast.args }, ...ast.args.flatMap(calls)];
    case 'prop':
      return calls(ast.target);
    case 'index':
      return [...calls(ast.target), ...calls(ast.index)];
    default:
      return [];
  }
}

/** Canonical text of an expression (whitespace-insensitive comparison). */
export function print(ast: Ast): string {
  switch (ast.kind) {
    case 'str':
      return `'${ast.value.replaceAll("'", "''")}'`;
    case 'num':
      return String(ast.value);
    case 'call':
      return `${ast.name}(${ast.args.map(print).join(', ')})`;
    case 'prop':
      return `${print(ast.target)}.${ast.name}`;
    case 'index':
      return `${print(ast.target)}[${print(ast.index)}]`;
  }
}

/** ARM template functions (learn.microsoft.com, azure-resource-manager/templates/template-functions). */
export const ARM_FUNCTIONS = new Set([
  'and',
  'array',
  'base64',
  'bool',
  'coalesce',
  'concat',
  'contains',
  'copyIndex',
  'createArray',
  'createObject',
  'deployment',
  'empty',
  'endsWith',
  'environment',
  'equals',
  'extensionResourceId',
  'false',
  'filter',
  'first',
  'format',
  'greater',
  'guid',
  'if',
  'indexOf',
  'int',
  'intersection',
  'json',
  'lambda',
  'lambdaVariables',
  'last',
  'length',
  'list',
  'listKeys',
  'map',
  'newGuid',
  'not',
  'null',
  'or',
  'parameters',
  'range',
  'reduce',
  'reference',
  'replace',
  'resourceGroup',
  'resourceId',
  'skip',
  'split',
  'startsWith',
  'string',
  'subscription',
  'subscriptionResourceId',
  'substring',
  'take',
  'tenant',
  'tenantResourceId',
  'toLower',
  'toUpper',
  'trim',
  'true',
  'union',
  'uniqueString',
  'uri',
  'utcNow',
  'variables',
]);

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

export interface EvalContext {
  parameters: Record<string, Value>;
  /** Raw variable definitions (evaluated on use). */
  variables: Record<string, unknown>;
  /** The deployment's subscription and resource group. */
  subscriptionId: string;
  resourceGroup: string;
  tenantId: string;
  location: string;
  /** Stub for reference(id, apiVersion, 'full'?): the resource's runtime properties. */
  reference: (id: string, full: boolean) => Value;
  copyIndex?: number;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
/** Deterministic stand-ins: the real ones are hashes too, only the algorithm differs. */
export const stubUniqueString = (...parts: string[]): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const h = sha(parts.join('|'));
  let out = '';
  for (let k = 0; k < 13; k++) out += alphabet[parseInt(h.slice(k * 2, k * 2 + 2), 16) % alphabet.length];
  return out;
};
export const stubGuid = (...parts: string[]): string => {
  const h = sha(`guid|${parts.join('|')}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** Evaluate a template value: expressions inside strings, objects and arrays. */
export function evaluateValue(value: unknown, ctx: EvalContext): Value {
  if (typeof value === 'string') {
    if (isExpression(value)) return evaluate(parseExpression(value.slice(1, -1)), ctx, {});
    return value.startsWith('[[') ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map((x) => evaluateValue(x, ctx));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [isExpression(k) ? String(evaluateValue(k, ctx)) : k, evaluateValue(x, ctx)]));
  }
  return value as Value;
}

function evaluate(ast: Ast, ctx: EvalContext, lambdas: Record<string, Value>): Value {
  const ev = (a: Ast): Value => evaluate(a, ctx, lambdas);
  const str = (a: Ast): string => {
    const x = ev(a);
    if (typeof x !== 'string') throw new TypeError(`expected a string from ${print(a)}, got ${JSON.stringify(x)}`);
    return x;
  };
  const arr = (a: Ast): Value[] => {
    const x = ev(a);
    if (!Array.isArray(x)) throw new TypeError(`expected an array from ${print(a)}, got ${JSON.stringify(x)}`);
    return x;
  };
  switch (ast.kind) {
    case 'str':
      return ast.value;
    case 'num':
      return ast.value;
    case 'prop': {
      const target = ev(ast.target);
      if (!target || typeof target !== 'object' || Array.isArray(target) || !(ast.name in target)) {
        throw new TypeError(`no property ${ast.name} on ${print(ast.target)} = ${JSON.stringify(target)}`);
      }
      return target[ast.name] as Value;
    }
    case 'index': {
      const target = ev(ast.target);
      const index = ev(ast.index);
      if (Array.isArray(target) && typeof index === 'number') {
        if (index < 0 || index >= target.length) throw new RangeError(`index ${index} out of range in ${print(ast)}`);
        return target[index] as Value;
      }
      if (target && typeof target === 'object' && typeof index === 'string' && index in target) return (target as Record<string, Value>)[index] as Value;
      throw new TypeError(`cannot index ${print(ast.target)} with ${JSON.stringify(index)}`);
    }
    case 'call':
      break;
  }
  const { name, args } = ast;
  const a = (k: number): Ast => {
    const x = args[k];
    if (!x) throw new TypeError(`${name}() needs argument ${k + 1}`);
    return x;
  };
  switch (name) {
    case 'parameters': {
      const key = str(a(0));
      if (!(key in ctx.parameters)) throw new ReferenceError(`parameters('${key}') is not declared`);
      return ctx.parameters[key] as Value;
    }
    case 'variables': {
      const key = str(a(0));
      if (!(key in ctx.variables)) throw new ReferenceError(`variables('${key}') is not declared`);
      return evaluateValue(ctx.variables[key], ctx);
    }
    case 'lambdaVariables': {
      const key = str(a(0));
      if (!(key in lambdas)) throw new ReferenceError(`lambdaVariables('${key}') is not bound`);
      return lambdas[key] as Value;
    }
    case 'map': {
      const items = arr(a(0));
      const lambda = a(1);
      if (lambda.kind !== 'call' || lambda.name !== 'lambda') throw new TypeError('map() needs a lambda');
      const varName = evaluate(lambda.args[0] as Ast, ctx, lambdas);
      return items.map((item) => evaluate(lambda.args[1] as Ast, ctx, { ...lambdas, [String(varName)]: item }));
    }
    case 'concat': {
      const values = args.map(ev);
      if (values.every(Array.isArray)) return values.flat() as Value[];
      return values.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('');
    }
    case 'union': {
      const values = args.map(ev);
      if (values.every(Array.isArray)) {
        const out: Value[] = [];
        for (const x of values.flat() as Value[]) if (!out.some((y) => JSON.stringify(y) === JSON.stringify(x))) out.push(x);
        return out;
      }
      return Object.assign({}, ...values);
    }
    case 'if':
      return ev(a(0)) === true ? ev(a(1)) : ev(a(2));
    case 'createArray':
      return args.map(ev);
    case 'createObject': {
      const out: Record<string, Value> = {};
      for (let k = 0; k < args.length; k += 2) out[str(a(k))] = ev(a(k + 1));
      return out;
    }
    case 'empty': {
      const x = ev(a(0));
      return x === null || x === '' || (Array.isArray(x) && x.length === 0) || (typeof x === 'object' && Object.keys(x).length === 0);
    }
    case 'not':
      return ev(a(0)) !== true;
    case 'and':
      return args.every((x) => ev(x) === true);
    case 'or':
      return args.some((x) => ev(x) === true);
    case 'equals':
      return JSON.stringify(ev(a(0))) === JSON.stringify(ev(a(1)));
    case 'contains': {
      const container = ev(a(0));
      const item = ev(a(1));
      if (typeof container === 'string') return container.toLowerCase().includes(String(item).toLowerCase());
      if (Array.isArray(container)) return container.some((x) => JSON.stringify(x) === JSON.stringify(item));
      return !!container && typeof container === 'object' && String(item) in container;
    }
    case 'length': {
      const x = ev(a(0));
      if (typeof x === 'string' || Array.isArray(x)) return x.length;
      throw new TypeError('length() of a non-array');
    }
    case 'toLower':
      return str(a(0)).toLowerCase();
    case 'toUpper':
      return str(a(0)).toUpperCase();
    case 'string': {
      const x = ev(a(0));
      return typeof x === 'string' ? x : JSON.stringify(x);
    }
    case 'replace':
      return str(a(0)).replaceAll(str(a(1)), str(a(2)));
    case 'split':
      return str(a(0)).split(str(a(1)));
    case 'last': {
      const x = ev(a(0));
      if (Array.isArray(x)) return x.at(-1) as Value;
      return String(x).slice(-1);
    }
    case 'take': {
      const x = ev(a(0));
      const n = ev(a(1)) as number;
      return Array.isArray(x) ? x.slice(0, n) : String(x).slice(0, n);
    }
    case 'format': {
      const template = str(a(0));
      const values = args.slice(1).map(ev);
      return template.replace(/\{(\d+)\}/g, (_, k: string) => {
        const x = values[Number(k)];
        if (x === undefined) throw new RangeError(`format(): no argument {${k}}`);
        return typeof x === 'string' ? x : JSON.stringify(x);
      });
    }
    case 'uniqueString':
      return stubUniqueString(...args.map(str));
    case 'guid':
      return stubGuid(...args.map(str));
    case 'newGuid':
      return stubGuid('new', String(Math.random()));
    case 'copyIndex':
      if (ctx.copyIndex === undefined) throw new ReferenceError('copyIndex() outside a copy loop');
      return ctx.copyIndex;
    case 'resourceGroup':
      return {
        id: `/subscriptions/${ctx.subscriptionId}/resourceGroups/${ctx.resourceGroup}`,
        name: ctx.resourceGroup,
        location: ctx.location,
      };
    case 'subscription':
      return { id: `/subscriptions/${ctx.subscriptionId}`, subscriptionId: ctx.subscriptionId, tenantId: ctx.tenantId };
    case 'resourceId': {
      const values = args.map(str);
      const typeAt = values.findIndex((x) => x.includes('/'));
      const sub = typeAt >= 2 ? (values[0] as string) : ctx.subscriptionId;
      const rg = typeAt >= 1 ? (values[typeAt - 1] as string) : ctx.resourceGroup;
      return armId(`/subscriptions/${sub}/resourceGroups/${rg}`, values[typeAt] as string, values.slice(typeAt + 1));
    }
    case 'subscriptionResourceId': {
      const values = args.map(str);
      return armId(`/subscriptions/${ctx.subscriptionId}`, values[0] as string, values.slice(1));
    }
    case 'extensionResourceId': {
      const values = args.map(str);
      return armId(values[0] as string, values[1] as string, values.slice(2));
    }
    case 'reference': {
      const id = str(a(0));
      const full = args[2] ? str(a(2)) === 'full' : false;
      return ctx.reference(id, full);
    }
    default:
      throw new Error(`the test evaluator does not implement ${name}()`);
  }
}

/** /scope/providers/<ns>/<t1>/<n1>/<t2>/<n2> */
export function armId(scope: string, type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  if (types.length !== names.length) throw new Error(`resource id for ${type} needs ${types.length} names, got ${names.length}`);
  return `${scope}/providers/${namespace}/${types.flatMap((t, k) => [t, names[k]]).join('/')}`;
}

/** The type and name of a resource id (the last provider segment). */
export function parseArmId(id: string): { type: string; names: string[] } {
  const at = id.toLowerCase().lastIndexOf('/providers/');
  const segments = id.slice(at + '/providers/'.length).split('/');
  const [namespace, ...rest] = segments;
  const types: string[] = [];
  const names: string[] = [];
  for (let k = 0; k < rest.length; k += 2) {
    types.push(rest[k] as string);
    names.push(rest[k + 1] as string);
  }
  return { type: [namespace, ...types].join('/'), names };
}
