/** Live monitoring of deployments: drift of the logged inputs against the training data's profile, on a schedule. */

export { featureSlots, featureValues, type LoggedCall, referenceFromColumn } from './drift-inputs.ts';
export { type DriftCheck, DriftMonitor, type DriftMonitorDeps, type FeatureDrift } from './drift-monitor.ts';
