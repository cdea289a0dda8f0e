// What the server says about itself: GET /system_stats and GET /features (also the WS feature_flags reply).
import { freemem, totalmem } from 'node:os';
import { type SimOptions, versionAtLeast } from './args.ts';

export function features(opts: SimOptions): Record<string, unknown> {
  const f: Record<string, unknown> = { supports_preview_metadata: true, max_upload_size: opts.maxUploadBytes };
  if (versionAtLeast(opts.version, '0.4.0')) Object.assign(f, { supports_model_type_tags: true, extension: { manager: { supports_v4: true } }, node_replacements: true, assets: false });
  return f;
}

export function systemStats(opts: SimOptions) {
  const newer = versionAtLeast(opts.version, '0.4.0');
  const [total, free] = [totalmem(), freemem()];
  const system: Record<string, unknown> = {
    os: newer ? process.platform : 'posix', ram_total: total, ram_free: free, comfyui_version: opts.version,
    required_frontend_version: '1.27.10', installed_templates_version: null, required_templates_version: '0.1.95',
  };
  if (newer) system.comfy_package_versions = [{ name: 'comfyui-frontend-package', installed: '1.27.10', required: '1.27.10' }];
  Object.assign(system, { python_version: '3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]', pytorch_version: '2.8.0+cpu (simulated)', embedded_python: false });
  if (newer) system.deploy_environment = 'local-git';
  system.argv = ['main.py', ...opts.argv];
  return { system, devices: [{ name: 'cpu', type: 'cpu', index: null, vram_total: total, vram_free: free, torch_vram_total: total, torch_vram_free: free }] };
}
