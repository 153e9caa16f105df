// `--control URL1,URL2` or `--control URL1 --control URL2` (and MERIDIAN_API=URL1,URL2): the
// control-plane replicas (or load balancers) a process fails over between, in order.
import { splitUrlList } from '../common/http/failover-urls.ts';
import { parseHttpUrl, UsageError } from './args.ts';

export function parseControlUrls(flag: string, values: string | readonly string[]): URL[] {
  const urls = splitUrlList(values).map((value) => parseHttpUrl(flag, value));
  if (urls.length === 0)
    throw new UsageError(`--${flag}: expected one or more http:// URLs, comma separated`);
  return urls;
}
