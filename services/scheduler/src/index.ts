export { main } from './main.js';
export { buildSchedulerApp, webhookSettings, admissionSettings, type SchedulerAppDeps } from './app.js';
export { SchedulerConfig, WebhookConfig, loadWebhooks, parseStateTimeouts, DEFAULT_STATE_TIMEOUTS, type WebhookTarget } from './config.js';
export { createScheduler, type Scheduler, type SchedulerDeps, type AdmissionSettings } from './scheduler.js';
export { Inventory, newest, type TimelineQuery } from './inventory.js';
export { Deployments, type AdmissionDefaults } from './deployments.js';
export { AdmissionControl, type AdmissionControlSettings } from './admission-control.js';
export { NodeLifecycle, type Origin } from './node-lifecycle.js';
export { BootScripts, type BootSettings } from './boot.js';
export { SchedulerStore } from './adapters/store.js';
export { TimelineStore, EVENTS_MAXLEN, type RecordedEntry } from './adapters/timeline-store.js';
export { startTimelineRecorder, TIMELINE_CONSUMER, type TimelineRecorderDeps } from './adapters/timeline-recorder.js';
export { WebhookDispatcher, startWebhookConsumers, WEBHOOK_CONSUMER, type WebhookDeliverySettings, type WebhookOutcome } from './adapters/webhooks.js';
export { WEBHOOK_EVENTS, WEBHOOK_EVENT_TYPES, wantsEvent, attemptVerdict, backoffDelay, parseRetryAfter, type AttemptVerdict, type BackoffPolicy } from './domain/webhooks.js';
export { webhookRequest, CLOUDEVENTS_JSON, type WebhookRequest } from './protocol/webhook.js';
export {
  NODE_TRANSITIONS, canTransition, isActive, mayInstall, bootDecision, stageTarget, classifyReport, finishedAs, admissionSteps, inBootPhase, bootOutcome, TIMED_STATES, isTimedState, timeoutCode, recoveryAction,
  type BootDecision, type ReportDecision, type TimedState,
} from './domain/state-machine.js';
export { initialController, stepController, canarySize, failureBudget, overBudget, type AdmissionLimits, type ControllerState, type Observation } from './domain/admission.js';
export { parseSelector, matchesSelector, type Selector } from './domain/selector.js';
export { normalizeNodes, type NodeRegistration } from './domain/inventory.js';
export { parseNodeCsv, parseLabels } from './protocol/node-csv.js';
export { encodeCursor, decodeCursor, type CursorList, type Position } from './protocol/cursor.js';
export { installScript, localBootScript, waitScript, type InstallBoot } from './protocol/ipxe.js';
