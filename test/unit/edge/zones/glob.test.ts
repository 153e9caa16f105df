import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileGlob } from '../../../../src/edge/zones/glob.ts';

describe('compileGlob', () => {
  const rows: [glob: string, path: string, matches: boolean][] = [
    ['/', '/', true],
    ['/', '/a', false],
    ['/img/*', '/img/a.png', true],
    ['/img/*', '/img/', true],
    ['/img/*', '/img/a/b.png', false],
    ['/img/*', '/x/img/a.png', false],
    ['/img/**', '/img/a/b/c.png', true],
    ['/img/**', '/img', false],
    ['/**', '/anything/at/all', true],
    ['/**/*.js', '/app.js', true],
    ['/static/**/*.js', '/static/app.js', true],
    ['/static/**/*.js', '/static/a/b/app.js', true],
    ['/static/**/*.js', '/staticx/app.js', false],
    ['/static/**/*.js', '/static/app.json', false],
    ['/a/***/b', '/a/x/y/b', true],
    ['/*.css', '/site.css', true],
    ['/*.css', '/sitexcss', false],
    ['/*.css', '/dir/site.css', false],
    ['**.css', '/dir/site.css', true],
    ['/file?.txt', '/file1.txt', true],
    ['/file?.txt', '/file.txt', false],
    ['/file?.txt', '/file12.txt', false],
    ['/a?b', '/a/b', false],
    ['/v1.2/*', '/v1.2/a', true],
    ['/v1.2/*', '/v1x2/a', false],
    ['/a+b', '/a+b', true],
    ['/a+b', '/aab', false],
    ['/(x)|[y]', '/(x)|[y]', true],
    ['/(x)|[y]', '/x', false],
    ['/$^{1}', '/$^{1}', true],
    ['/a\\b', '/a\\b', true],
    ['/price$', '/price$', true],
    ['/API/*', '/api/v1', false],
    ['/a*b*c', '/aXbYc', true],
    ['/a*b*c', '/aXb/c', false],
    ['/%20*', '/%20x', true],
  ];
  for (const [glob, path, matches] of rows) {
    test(`${JSON.stringify(glob)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(path)}`, () => {
      assert.equal(compileGlob(glob).test(path), matches);
    });
  }

  test('a glob is compiled once into a reusable RegExp without state', () => {
    const re = compileGlob('/a/*');
    assert.equal(re.global, false);
    assert.equal(re.test('/a/b'), true);
    assert.equal(re.test('/a/b'), true);
  });
});
