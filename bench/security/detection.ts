// Managed rules: detection rate on the attack corpus and false positives on the benign corpus, at
// each paranoia level (bench/security/corpus/, sources in its header lines and docs/security.md).
//   node bench/security/detection.ts [--verbose]
import { readFileSync } from 'node:fs';
import {
  inspect,
  selectManagedRules,
  firstMatch,
  type ManagedInput,
} from '../../src/lib/waf/managed-rules.ts';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const verbose = process.argv.includes('--verbose');

function load(name: string): { line: string; input: ManagedInput }[] {
  const text = readFileSync(new URL(`./corpus/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      if (line.startsWith('UA\t')) {
        return {
          line,
          input: { method: 'GET', path: '/', query: '', cookie: '', userAgent: line.slice(3), headers: [] },
        };
      }
      const q = line.indexOf('?');
      const path = q < 0 ? line : line.slice(0, q);
      const query = q < 0 ? '' : line.slice(q + 1);
      return { line, input: { method: 'GET', path, query, cookie: '', userAgent: BROWSER, headers: [] } };
    });
}

const attacks = load('attacks.txt');
const benign = load('benign.txt');
console.log(`corpus: ${attacks.length} attacks, ${benign.length} benign requests`);
for (const paranoia of [1, 2, 3]) {
  const rules = selectManagedRules({ paranoia_level: paranoia });
  const missed = attacks.filter((a) => firstMatch(rules, inspect(a.input), null) === null);
  const flagged = benign
    .map((b) => ({ b, hit: firstMatch(rules, inspect(b.input), null) }))
    .filter((x) => x.hit !== null);
  const detection = (1 - missed.length / attacks.length) * 100;
  const fp = (flagged.length / benign.length) * 100;
  console.log(
    `paranoia ${paranoia}: ${rules.length} rules, detection ${detection.toFixed(1)}% (${attacks.length - missed.length}/${attacks.length}), false positives ${fp.toFixed(2)}% (${flagged.length}/${benign.length})`,
  );
  if (verbose || paranoia === 1) {
    for (const m of missed) console.log(`  missed: ${m.line}`);
    for (const f of flagged) console.log(`  false positive [${f.hit?.def.id}]: ${f.b.line}`);
  }
}
