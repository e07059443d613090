/** Graph-level transforms for AWQ / SmoothQuant / OS+: exact scale/shift folding and activation QDQ. */
export { findScaleProducer, GraphIndex, type ScaleGroup, type ScaleProducer } from './producer';
export { foldInputScales, foldInputTransforms, scaleGroups, type InputTransform, type FoldedGroup, type FoldResult } from './fold';
export { insertActivationQdq, symmetricActivationQuant, asymmetricActivationQuant, type ActivationQuant } from './activationQdq';
