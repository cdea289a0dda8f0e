import type { RunEvent } from '../runs/event-log.ts';

/** Event types a job's `webhook.events` may name: the run's events (README "Running a job"). */
export const WEBHOOK_EVENT_TYPES = [
  'run.created',
  'run.started',
  'run.start_failed',
  'run.waiting_for_comfyui',
  'run.reattached',
  'run.cancel_requested',
  'run.cancel_recovered',
  'run.completed',
  'run.failed',
  'phase.started',
  'phase.completed',
  'phase.skipped',
  'phase.failed',
  'comfyui.queued',
  'comfyui.started',
  'comfyui.cached',
  'comfyui.node_started',
  'comfyui.progress',
  'comfyui.node_output',
  'comfyui.output_downloaded',
  'comfyui.output_refused',
  'comfyui.events_lost',
  'comfyui.interrupted_by_vidax',
  'media.progress',
  'lipsync.reattached',
  'lipsync.queued',
  'lipsync.started',
  'lipsync.cached',
  'lipsync.node_started',
  'lipsync.progress',
  'lipsync.node_output',
  'lipsync.output_downloaded',
  'lipsync.output_refused',
  'lipsync.events_lost',
  'lipsync.interrupted_by_vidax',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Without `events`: the run's end and the end of each phase. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = [
  'run.completed',
  'run.failed',
  'phase.completed',
  'phase.skipped',
  'phase.failed',
];

/** The run's last event: nothing follows it. */
export const isRunEnd = (type: string) => type === 'run.completed' || type === 'run.failed';

/** A job's `webhook` field. */
export interface WebhookSpec {
  url: string;
  events?: readonly string[] | undefined;
}

export const wants = (spec: WebhookSpec, type: string) => (spec.events ?? DEFAULT_WEBHOOK_EVENTS).includes(type as WebhookEventType);

/** One id per event of a run, the same on every attempt and after a restart. */
export const messageId = (runId: string, seq: number) => `msg_${runId}_${seq}`;

/** The delivered body: `{type, timestamp, data}` with the event's fields under `data`. */
export function payloadOf(runId: string, event: RunEvent): string {
  const { ts, seq, type, ...fields } = event;
  return JSON.stringify({ type, timestamp: ts, data: { run_id: runId, seq, ...fields } });
}
