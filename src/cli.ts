import { configSecrets } from './config/broker-settings.js';
import { loadConfig } from './config/config.js';
import { helpText } from './config/flags.js';
import { CeleryPulseError } from './errors.js';
import { tuneHeap } from './heap-tuning.js';
import { createLogger } from './log.js';
import { startDaemon } from './main.js';
import { VERSION } from './version.js';

// Bounded shutdown: a broker that does not answer QUIT must not keep a SIGTERMed pod alive.
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function run(): Promise<void> {
  let action;
  try {
    action = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof CeleryPulseError) {
      console.error(`celery-pulse: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (action.action === 'help') {
    process.stdout.write(helpText(VERSION));
    return;
  }
  if (action.action === 'version') {
    process.stdout.write(`celery-pulse ${VERSION}\n`);
    return;
  }
  const config = action.config;
  tuneHeap(process.execArgv);
  const logger = createLogger(config.logLevel, configSecrets(config), undefined, config.logFormat);
  for (const notice of config.notices) logger.info(notice);
  for (const warning of config.warnings) logger.warn(warning);
  let daemon;
  try {
    daemon = await startDaemon(config, logger, VERSION);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ code: err instanceof CeleryPulseError ? err.code : undefined, err: message }, 'could not start');
    logger.flush();
    setTimeout(() => process.exit(1), 100);
    return;
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    daemon.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 50).unref();
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // Node's default for SIGHUP is to exit without a word. There is nothing to reload (the
  // configuration is validated once and frozen; restart to change it), so say so and keep serving.
  process.on('SIGHUP', () => logger.info({ signal: 'SIGHUP' }, 'SIGHUP received: nothing is reloaded (restart to change the configuration); still running'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

run().catch((err: unknown) => {
  console.error(`celery-pulse: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
