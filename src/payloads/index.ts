/** The public surface of payloads/: the payload log (the gateway's hook, queries, purge) and delayed-label feedback. */
export {
  type AccuracyReport,
  type ClassMetrics,
  type FeedbackLabel,
  type FeedbackResult,
  FeedbackService,
  parseFeedbackCsv,
} from './feedback.ts';
export { type ArmRef, type LoggingConfig, PayloadLog, type PayloadLogOptions } from './payload-log.ts';
