import type { Config, BrokerConfig } from '../config/config.js';
import { CeleryPulseError } from '../errors.js';
import { RedisEventSource } from './redis.js';
import type { EventSource, SourceContext } from './source.js';

/** The event source for a broker URL's kind. Adding a broker is adding a case here and a file. */
export function createEventSource(broker: BrokerConfig, config: Config, ctx: SourceContext): EventSource {
  switch (broker.url.kind) {
    case 'redis':
      return new RedisEventSource(
        broker,
        { transport: config.transport, eventExchange: config.eventExchange, tls: undefined, pingInterval: 5 },
        ctx,
      );
    case 'amqp':
      throw new CeleryPulseError('CP_ERR_BROKER_URL', `broker ${broker.name}: RabbitMQ is not supported yet`);
  }
}
