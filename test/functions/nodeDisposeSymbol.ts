/**
 * Jest's vm realm has no Symbol.dispose, and durable-functions (loaded first, as a CommonJS
 * module, while jest links the ESM graph) polyfills one with a fresh symbol. undici then looks
 * up Node's disposer under the wrong symbol ("removeAbortListener is not a function" after
 * every fetch). Point this realm's Symbol.dispose at Node's own symbol, taken from an object
 * Node created. The polyfill is configurable; nothing the tests use disposes by it.
 * (test/setup/realmFix.ts covers the case where nothing polyfilled it first.)
 */
import { addAbortListener } from 'node:events';

const disposable = addAbortListener(new AbortController().signal, () => undefined) as object;
const nodeDispose = Object.getOwnPropertySymbols(disposable).find((s) => s.description === 'nodejs.dispose' || s.description === 'Symbol.dispose');
const current = (Symbol as { dispose?: symbol }).dispose;
if (nodeDispose && current !== nodeDispose) {
  const descriptor = Object.getOwnPropertyDescriptor(Symbol, 'dispose');
  if (!descriptor || descriptor.configurable) {
    Object.defineProperty(Symbol, 'dispose', { value: nodeDispose, configurable: true, enumerable: false, writable: false });
  }
}
if (nodeDispose) (disposable as Record<symbol, () => void>)[nodeDispose]?.();

export {};
