/** Shapes of ComfyUI's HTTP API (see docs/comfyui-api.md §2), as far as VIDAX reads them. */

export interface ComfyUIDevice {
  name: string;
  type: string;
  index: number | null;
  vram_total: number;
  vram_free: number;
  torch_vram_total?: number;
  torch_vram_free?: number;
}

export interface SystemStats {
  system: { comfyui_version?: string; os?: string; python_version?: string; pytorch_version?: string; [key: string]: unknown };
  devices: ComfyUIDevice[];
}

/** An API-format graph: node id (a string) → node. */
export type ComfyUIGraph = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;

export interface NodeErrorItem {
  type: string;
  message: string;
  details: string;
  extra_info?: Record<string, unknown>;
}

export interface NodeError {
  errors: NodeErrorItem[];
  dependent_outputs: string[];
  class_type: string;
}

export interface SubmitInput {
  /** The graph, or its compact JSON text as bytes (sent as is: a large graph is never re-serialised). */
  prompt: ComfyUIGraph | Record<string, unknown> | Uint8Array;
  /** Minted by VIDAX (`mintPromptId()`), a lowercase UUID. */
  promptId: string;
  /** The event stream's clientId; without it ComfyUI sends no execution events. */
  clientId?: string;
  extraData?: Record<string, unknown>;
}

export interface SubmitResult {
  prompt_id: string;
  /** Queue number: an int, or a float if a client sent one. */
  number: number;
  /** Can be non-empty on success: those output nodes were dropped. */
  node_errors: Record<string, NodeError>;
}

/** Details of a COMFYUI_REJECTED error: the 400 body as ComfyUI sent it. */
export interface RejectedDetails {
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> } | string;
  node_errors: Record<string, NodeError>;
}

/** One output file of a history entry (an item of `images`, `audio`, … lists). */
export interface OutputFile {
  filename: string;
  subfolder: string;
  type: string;
}

export type HistoryMessage = [string, Record<string, unknown>];

export interface HistoryEntry {
  /** `[number, prompt_id, graph, extra_data, outputs_to_execute]`, like a queue item. */
  prompt: unknown[];
  outputs: Record<string, Record<string, unknown>>;
  status: { status_str: 'success' | 'error' | string; completed: boolean; messages: HistoryMessage[] } | null;
  meta?: Record<string, unknown>;
}

export interface QueueItem {
  number: number;
  prompt_id: string;
  client_id: string | null;
  outputs_to_execute: string[];
}

export interface QueueState {
  running: QueueItem[];
  /** Sorted by `number` (ComfyUI sends the raw, unsorted heap). */
  pending: QueueItem[];
}

export interface UploadResult {
  name: string;
  subfolder: string;
  type: string;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
}

/** Every call takes an optional deadline and an abort signal. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}
