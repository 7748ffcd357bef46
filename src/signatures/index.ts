/** Friendly signatures: named, typed features and an output mapping on top of a model's tensor signature. */

export { checkDeclaredSignature } from './declared-signature.ts';
export {
  bindFriendlySignature,
  compileFriendlySignature,
  FEATURE_TYPES,
  type FeatureSpec,
  type FeatureType,
  type FriendlySignature,
  featureInput,
  type OutputMapping,
  scoringParts,
} from './friendly-signature.ts';
export { friendlyFromMlflow, parseFriendlySignature } from './signature-file.ts';
