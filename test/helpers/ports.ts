// Ports for processes whose own URL must be known before they start (a node's --public-url, `meridian
// up --ports`): random ones below Linux's ephemeral range (32768+), so that no outgoing connection
// takes one between this check and the process binding it, and two runs side by side differ.
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** Can something listen on this port (TCP on 127.0.0.1, and UDP too when asked)? */
export async function isFree(port: number, udp = false): Promise<boolean> {
  const server = createServer();
  try {
    server.listen({ host: '127.0.0.1', port, exclusive: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
  } catch {
    return false;
  } finally {
    server.close();
  }
  if (!udp) return true;
  const socket = createSocket('udp4');
  try {
    socket.bind({ address: '127.0.0.1', port, exclusive: true });
    await Promise.race([once(socket, 'listening'), once(socket, 'error').then(([e]) => Promise.reject(e))]);
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

/** `count` distinct free TCP ports in 20000–31999. */
export async function freeFixedPorts(count: number): Promise<number[]> {
  const picked: number[] = [];
  while (picked.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!picked.includes(port) && (await isFree(port))) picked.push(port);
  }
  return picked;
}
