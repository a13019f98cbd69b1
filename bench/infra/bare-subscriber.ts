// The yardstick: a bare Node subscriber that only decodes each frame (JSON envelope, base64, JSON
// body) and counts the events, with the daemon's client library. What it costs per event on this
// machine, right now, is the floor for the daemon's figure: the ratio of the two is steady even when
// other load on the machine moves both. Usage: node bare-subscriber.js redis://… | amqp://… PORT
import { createServer } from 'node:http';

const [url, port] = process.argv.slice(2);
if (url === undefined || port === undefined) throw new Error('usage: bare-subscriber URL HTTP_PORT');
let events = 0;

function count(body: string): void {
  const decoded: unknown = JSON.parse(body);
  events += Array.isArray(decoded) ? decoded.length : 1;
}

if (url.startsWith('redis')) {
  const { Redis } = await import('ioredis');
  const db = /\/(\d+)$/.exec(url)?.[1] ?? '0';
  const client = new Redis(url);
  client.on('pmessage', (_p: string, _c: string, message: string) => {
    const env = JSON.parse(message) as { body: string };
    count(Buffer.from(env.body, 'base64').toString('utf8'));
  });
  await client.psubscribe(`/${db}.celeryev/*`);
} else {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
  const q = await ch.assertQueue('', { exclusive: true, autoDelete: true, arguments: { 'x-message-ttl': 5000 } });
  await ch.bindQueue(q.queue, 'celeryev', '#');
  await ch.consume(q.queue, (msg) => msg !== null && count(msg.content.toString('utf8')), { noAck: true });
}

// Answers with the events counted so far, in the daemon's metric format, so the same code reads both.
createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end(req.url === '/readyz' ? 'ready\n' : `celery_pulse_events_received_total{type="all"} ${events}\ncelery_pulse_broker_up 1\n`);
}).listen(Number(port), '127.0.0.1');
