/** Paths to the shared real data (../shared next to the repository); tests skip when it is absent. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..', '..');
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const stories = {
  model: resolve(sharedDir, 'models/stories260K/model.onnx'),
  tokenizer: resolve(sharedDir, 'models/stories260K/tokenizer.json'),
  text: resolve(sharedDir, 'data/tinystories-sample.txt'),
};
/** A skip reason when the shared stories260K files are missing, else false. */
export const skipNoShared: string | false = [stories.model, stories.tokenizer, stories.text].every((p) => existsSync(p))
  ? false
  : `shared data not found at ${sharedDir} (stories260K model, tokenizer, tinystories text)`;

