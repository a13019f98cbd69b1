import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Keeps at most `max` connections open by closing the longest-idle ones first. A connection is
 * idle from its accept, and again after each response, until a request's headers are complete:
 * idle keep-alive sockets, slow-header (slowloris) sockets and unfinished TLS handshakes are all
 * idle. A new connection beyond the limit makes the oldest idle one go, so 1,000 idle or slow
 * clients cannot lock out a probe or a scrape (server.maxConnections would refuse the newcomer
 * instead, and every client after it). Only when every connection is busy is the newcomer refused.
 *
 * The raw TCP socket of each connection is tracked (`connection` fires for it on HTTP and HTTPS
 * alike); a request's socket is matched to it by its remote address and port, which the TLS
 * socket shares with the TCP socket it wraps.
 */
export function shedIdleConnections(server: Server, max: number): void {
  /** Idle connections, oldest first (a Set iterates in insertion order). */
  const idle = new Set<Socket>();
  const byPeer = new Map<string, Socket>();
  let open = 0;
  const peer = (s: Socket): string => `${s.remoteAddress ?? ''}\u0000${s.remotePort ?? ''}`;

  server.on('connection', (socket: Socket) => {
    const key = peer(socket);
    open++;
    idle.add(socket);
    byPeer.set(key, socket);
    socket.once('close', () => {
      open--;
      idle.delete(socket);
      if (byPeer.get(key) === socket) byPeer.delete(key);
    });
    if (open <= max) return;
    // The oldest idle connection goes; the newcomer itself when it is the only idle one.
    const oldest = idle.values().next().value;
    if (oldest !== undefined) {
      idle.delete(oldest);
      oldest.destroy();
    }
  });
  server.on('request', (req: { socket: Socket }, res: { once(event: 'close', listener: () => void): unknown }) => {
    const raw = byPeer.get(peer(req.socket));
    if (raw === undefined) return;
    idle.delete(raw);
    res.once('close', () => {
      if (!raw.destroyed) idle.add(raw);
    });
  });
}
