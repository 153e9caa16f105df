// docs/pipeline.md and docs/errors.md are generated from the code; this fails when they drift
// (run `node scripts/gen-docs.ts` to regenerate).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { renderErrors, renderPipeline } from '../../../scripts/gen-docs.ts';
import { API_ERROR_INFO, API_ERRORS } from '../../../src/control/api/envelope.ts';

const docs = join(import.meta.dirname, '..', '..', '..', 'docs');

it('docs/pipeline.md matches the step table', () => {
  assert.equal(readFileSync(join(docs, 'pipeline.md'), 'utf8'), renderPipeline());
});

it('docs/errors.md lists every error code', () => {
  assert.equal(readFileSync(join(docs, 'errors.md'), 'utf8'), renderErrors());
});

it('docs/errors.md lists every API error code with its status', () => {
  const text = readFileSync(join(docs, 'errors.md'), 'utf8');
  for (const [name, code] of Object.entries(API_ERRORS))
    assert.match(
      text,
      new RegExp(
        `\\| ${code} \\| \`${name}\` \\| ${API_ERROR_INFO[name as keyof typeof API_ERRORS].status} \\|`,
      ),
    );
});
