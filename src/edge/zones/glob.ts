// Path globs of cache rules, compiled to anchored RegExps once when a zone's rules are applied.
//
// Syntax (matched against the raw path, without the query, case-sensitively):
//   `*`   any run of characters except '/' (one path segment or part of one)
//   `**`  any run of characters, '/' included; a run of three or more stars counts as `**`
//   `/**/` also matches a single '/', so `/static/**/*.js` matches `/static/app.js`
//   `?`   exactly one character except '/'
// Every other character matches itself: '.', '+', '(', '[', '$', '\' … are escaped, never regex syntax.
// The glob is anchored at both ends: `/img/*` matches `/img/a.png`, not `/img/a/b.png` nor `/x/img/a`.

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

/** Compiles a glob to an anchored RegExp (see the file comment for the syntax). */
export function compileGlob(glob: string): RegExp {
  let source = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i] as string;
    if (c === '*') {
      let stars = 0;
      while (glob[i] === '*') {
        stars++;
        i++;
      }
      if (stars === 1) {
        source += '[^/]*';
      } else if (source.endsWith('/') && glob[i] === '/') {
        // `/**/`: zero or more whole segments between the two slashes.
        source += '(?:.*/)?';
        i++;
      } else {
        source += '.*';
      }
      continue;
    }
    source += c === '?' ? '[^/]' : c.replace(REGEX_SPECIAL, '\\$&');
    i++;
  }
  return new RegExp(`^${source}$`, 's');
}
