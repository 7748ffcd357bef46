/** Webhook notifications (Slack or JSON), shared by pipelines' notify step and deployments' drift alerts. */
export {
  checkNotify,
  type Notification,
  type Notify,
  NotifySchema,
  type PostJson,
  sendNotification,
} from './notify.ts';
