/** One input of a run: `<run>/inputs/<name>`, listed in the manifest's `inputs`. */
export interface InputEntry {
  name: string;
  /** The client's file name (informational; never a path on the box). */
  filename: string;
  bytes: number;
  sha256: string;
  content_type: string;
  source: 'upload' | 'inline' | 'url';
}

/** An input file written to a staging folder, not yet part of a run. */
export type StagedInput = InputEntry;
