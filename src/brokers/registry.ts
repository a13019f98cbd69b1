import type { Logger } from 'pino';
import type { BrokerConfig, Config } from '../config/config-shape.js';
import type { BrokerKind } from './url.js';
import type { BrokerDriver, QueueDepthSource } from './driver.js';
import type { EventSource, SourceContext } from './source.js';
import { amqpDriver } from './amqp/driver.js';
import { redisDriver } from './redis/driver.js';

/** The one place broker kinds are listed: adding a broker is a folder beside redis/ and a line here. */
const DRIVERS: Readonly<Record<BrokerKind, BrokerDriver>> = { redis: redisDriver, amqp: amqpDriver };

/** OpenTelemetry's `messaging.system` for the broker's spans. */
export function messagingSystemOf(broker: BrokerConfig): string {
  return DRIVERS[broker.url.kind].messagingSystem;
}

export function createEventSource(broker: BrokerConfig, config: Config, ctx: SourceContext): EventSource {
  return DRIVERS[broker.url.kind].eventSource(broker, config, ctx);
}

export function createQueueDepthSource(broker: BrokerConfig, config: Config, logger: Logger): QueueDepthSource {
  return DRIVERS[broker.url.kind].queueDepth(broker, config, logger);
}
