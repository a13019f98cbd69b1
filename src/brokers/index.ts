import type { Config, BrokerConfig } from '../config/config.js';
import { AmqpEventSource } from './amqp.js';
import { RedisEventSource } from './redis.js';
import type { EventSource, SourceContext } from './source.js';

/** The event source for a broker URL's kind. Adding a broker is adding a case here and a file. */
export function createEventSource(broker: BrokerConfig, config: Config, ctx: SourceContext): EventSource {
  switch (broker.url.kind) {
    case 'redis':
      return new RedisEventSource(
        broker,
        { transport: config.transport, eventExchange: config.eventExchange, tls: config.tls, pingInterval: config.brokerPingInterval },
        ctx,
      );
    case 'amqp':
      return new AmqpEventSource(broker, { eventExchange: config.eventExchange, tls: config.tls, heartbeat: config.brokerPingInterval }, ctx);
  }
}
