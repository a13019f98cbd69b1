import type { BrokerDriver } from '../driver.js';
import { RedisEventSource } from './events.js';
import { RedisQueueDepth } from './queue-depth.js';

/** Redis (kombu's Redis transport): events on pub/sub, queue depth from the lists. */
export const redisDriver: BrokerDriver = {
  // Not in OpenTelemetry's registry of messaging systems: Redis as a Celery broker gets this
  // documented custom value.
  messagingSystem: 'redis',
  eventSource: (broker, config, ctx) =>
    new RedisEventSource(
      broker,
      { transport: config.transport, eventExchange: config.eventExchange, tls: config.tls, pingInterval: config.brokerPingInterval },
      ctx,
    ),
  queueDepth: (broker, config, logger) =>
    new RedisQueueDepth(broker, { transport: config.transport, eventExchange: config.eventExchange, tls: config.tls }, logger),
};
