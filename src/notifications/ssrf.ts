/**
 * Webhook URLs must not reach the operator's own network: a URL whose host resolves to a loopback,
 * private, link-local (cloud metadata), unspecified, multicast or otherwise reserved address is refused, at
 * creation and again at each delivery (after DNS resolution: a public name may later point inside), unless
 * the host is on the operator's allow-list, `TALLY_WEBHOOK_ALLOWED_HOSTS` (comma-separated host names,
 * addresses or CIDR ranges, e.g. `127.0.0.1,hooks.internal,10.0.0.0/8`).
 *
 * The delivery connects to the very address that was checked (see `delivery.ts`), so a second DNS answer
 * cannot slip in between the check and the connection.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const forbidden = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  forbidden.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  forbidden.addSubnet(net, prefix, 'ipv6');

/** `::ffff:10.0.0.1` (an IPv4 address in IPv6 form) is checked as the IPv4 address it is. */
function unmapped(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}

/** Whether `ip` is loopback, private, link-local or otherwise not a public unicast address. Pure. */
export function isForbiddenAddress(ip: string): boolean {
  const a = unmapped(ip);
  const family = isIP(a);
  if (family === 0) return true;
  return forbidden.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

export interface AllowList {
  hosts: Set<string>;
  nets: BlockList;
}

/** Parses `TALLY_WEBHOOK_ALLOWED_HOSTS`; throws on an entry that is neither a host nor an address/CIDR. */
export function parseAllowList(raw: string | undefined): AllowList {
  const hosts = new Set<string>();
  const nets = new BlockList();
  for (const entry of (raw ?? '').split(',').map((s) => s.trim().toLowerCase())) {
    if (!entry) continue;
    const [addr, bits] = entry.split('/');
    const family = isIP(addr);
    if (family && bits !== undefined) {
      const n = Number(bits);
      if (!Number.isInteger(n) || n < 0 || n > (family === 4 ? 32 : 128))
        throw new Error(`TALLY_WEBHOOK_ALLOWED_HOSTS: invalid range ${entry}`);
      nets.addSubnet(addr, n, family === 4 ? 'ipv4' : 'ipv6');
    } else if (family) nets.addAddress(addr, family === 4 ? 'ipv4' : 'ipv6');
    else if (/^[a-z0-9.-]+$/.test(entry)) hosts.add(entry);
    else throw new Error(`TALLY_WEBHOOK_ALLOWED_HOSTS: invalid entry ${entry}`);
  }
  return { hosts, nets };
}

function allowedAddress(list: AllowList, ip: string): boolean {
  const a = unmapped(ip);
  const family = isIP(a);
  return family !== 0 && list.nets.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

export interface ResolvedTarget {
  url: URL;
  /** the address the request must connect to */
  address: string;
  family: 4 | 6;
}

/** Why a webhook URL is refused (a message for the user), or the address to connect to. */
export async function resolveTarget(
  raw: string,
  allow: AllowList,
): Promise<
  | { ok: true; target: ResolvedTarget }
  /** `refused`: the URL itself is not acceptable (retrying cannot help); else the name did not resolve now */
  | { ok: false; reason: string; refused: boolean }
> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid URL', refused: true };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'must be an http or https URL', refused: true };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials', refused: true };
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      return { ok: false, reason: `host ${host} does not resolve`, refused: false };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve`, refused: false };
  const hostAllowed = allow.hosts.has(host);
  // every address must pass: a name that also resolves inside is refused
  for (const a of addresses)
    if (isForbiddenAddress(a.address) && !hostAllowed && !allowedAddress(allow, a.address))
      return {
        ok: false,
        reason: `resolves to ${a.address}, a loopback, private or link-local address (allow it with TALLY_WEBHOOK_ALLOWED_HOSTS)`,
        refused: true,
      };
  const first = addresses[0];
  return { ok: true, target: { url, address: unmapped(first.address), family: first.family === 6 ? 6 : 4 } };
}
