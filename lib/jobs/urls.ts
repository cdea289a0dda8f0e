/** Where a remote client finds a run's files over HTTP (root-relative: valid behind any host name). */
export function jobUrls(runId: string): { manifest_url: string; artifacts_url: string } {
  return { manifest_url: `/jobs/${runId}/manifest`, artifacts_url: `/jobs/${runId}/artifacts` };
}
