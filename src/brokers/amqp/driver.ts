import type { BrokerDriver } from '../driver.js';
import { AmqpEventSource } from './events.js';
import { AmqpQueueDepth } from './queue-depth.js';

/** RabbitMQ (AMQP 0-9-1): events from the celeryev topic exchange, queue depth by passive declare or the management API. */
export const amqpDriver: BrokerDriver = {
  messagingSystem: 'rabbitmq',
  eventSource: (broker, config, ctx) =>
    new AmqpEventSource(broker, { eventExchange: config.eventExchange, tls: config.tls, heartbeat: config.brokerPingInterval }, ctx),
  queueDepth: (broker, config, logger) =>
    new AmqpQueueDepth(broker, { tls: config.tls, management: config.rabbitmqManagement[broker.name] }, logger),
};
