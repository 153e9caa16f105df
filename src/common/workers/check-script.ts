// Compiles a worker module in a throwaway V8 isolate (isolated-vm) without running it: the control
// plane's check on upload, so that a syntax error is a 400 naming its line and column and never
// reaches a node. Compiling runs no customer code.
import ivm from 'isolated-vm';

export type ScriptProblem =
  | { kind: 'syntax'; message: string; line: number | null; column: number | null }
  | { kind: 'imports'; specifiers: string[] };

/** V8's "Unexpected token ';' [worker.js:2:22]" → the message, line 2, column 22. */
export function syntaxProblemOf(err: unknown): Extract<ScriptProblem, { kind: 'syntax' }> {
  const message = err instanceof Error ? err.message : String(err);
  const at = /\[worker\.js:(\d+):(\d+)\]$/.exec(message);
  const text = message.replace(/\s*\[worker\.js:\d+:\d+\]$/, '');
  return {
    kind: 'syntax',
    message: text,
    line: at === null ? null : Number(at[1]),
    column: at === null ? null : Number(at[2]),
  };
}

export function checkWorkerScript(source: string): ScriptProblem | null {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const module = isolate.compileModuleSync(source, { filename: 'worker.js' });
    const imports = module.dependencySpecifiers;
    return imports.length === 0 ? null : { kind: 'imports', specifiers: imports };
  } catch (err) {
    return syntaxProblemOf(err);
  } finally {
    isolate.dispose();
  }
}
