// lib/http-cache: the HTTP caching policy of a shared cache (RFC 9110, 9111, 5861, 8246, 9211, 9213),
// pure functions over header maps and clocks passed in. No I/O; imports only its own files and the
// structured-headers package (RFC 8941 parsing of the targeted fields).
export * from './headers.ts';
export * from './cache-control.ts';
export { parseSurrogateControl, parseTargetedField } from './targeted-field.ts';
export * from './policy.ts';
export * from './vary.ts';
export * from './conditional.ts';
export * from './cache-status.ts';
