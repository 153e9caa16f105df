// The JetStream stream (and its subject) that carries one control plane's event log. One stream per
// control-plane database: sequence numbers of two databases must never share a stream.
export const DEFAULT_EVENT_STREAM = 'MERIDIAN_EVENTS';
export const DEFAULT_EVENT_SUBJECT = 'meridian.events';

export function eventSubjectOf(stream: string): string {
  return stream === DEFAULT_EVENT_STREAM
    ? DEFAULT_EVENT_SUBJECT
    : `${DEFAULT_EVENT_SUBJECT}.${stream.toLowerCase()}`;
}

export function isValidStreamName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name);
}
