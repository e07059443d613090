/**
 * Issue 14, method 1 (QuaRot-style rotation) on stories260K: each configuration without and with
 * `rotation: hadamard` (several seeds), measured by bench/qualityConfigs.ts `measure` on the setup of
 * docs/results.md (calibration 16×128 from token 8192, evaluation 64×128 from token 0, LM head fp32).
 */
import type { RotationPlanInput } from '../protocol/plan';
import type { QualityConfig } from './qualityConfigs';

/** The seeds every rotated row is measured with (a rotation's gain varies with its random signs). */
export const ROTATION_SEEDS = [0, 1, 2];

/**
 * The base configurations. W4A8 is SmoothQuant (α 0.5) with static per-tensor int8 activations
 * (`activation_bits: 8`), the project's activation-quantization path.
 */
export const ROTATION_BASES: QualityConfig[] = [
  { id: 'rtn-w4-pc', method: 'rtn', bits: 4, groupSize: -1, format: 'fake' },
  { id: 'rtn-w3-pc', method: 'rtn', bits: 3, groupSize: -1, format: 'fake' },
  { id: 'rtn-w3-g32', method: 'rtn', bits: 3, groupSize: 32, format: 'fake' },
  // QuaRot's own RTN setting (fake_quant/main.py with --w_rtn --w_clip): per-channel symmetric, MSE clip.
  { id: 'rtn-w4-pc-sym-clip', method: 'rtn', bits: 4, groupSize: -1, symmetric: true, format: 'fake', settings: { mse_clip: true } },
  { id: 'rtn-w3-pc-sym-clip', method: 'rtn', bits: 3, groupSize: -1, symmetric: true, format: 'fake', settings: { mse_clip: true } },
  { id: 'gptq-w4-pc', method: 'gptq', bits: 4, groupSize: -1, format: 'fake' },
  { id: 'gptq-w3-pc', method: 'gptq', bits: 3, groupSize: -1, format: 'fake' },
  { id: 'sq-w4a8-pc', method: 'smoothquant', bits: 4, groupSize: -1, format: 'fake', settings: { alpha: 0.5, activation_bits: 8 } },
];

/** The rotations compared: offline only, and offline + online before the MLP down projections. */
export const ROTATIONS: { tag: string; rotation: (seed: number) => RotationPlanInput }[] = [
  { tag: 'rot', rotation: (seed) => ({ method: 'hadamard', seed, online: 'none' }) },
  { tag: 'rot+down', rotation: (seed) => ({ method: 'hadamard', seed, online: 'down' }) },
];
