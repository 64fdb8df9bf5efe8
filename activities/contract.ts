// The activities the workflow may call, as types only (the workflow bundle must not import adapters).
import type {
  CheckResult,
  ClaimInput,
  ClaimResult,
  CompleteCanaryInput,
  CreateVersionInput,
  CreateVersionResult,
  DeleteVersionInput,
  DeleteVersionResult,
  DiscoverInput,
  DiscoveredStage,
  FinalizeInput,
  Holder,
  MonitorInput,
  RevertInput,
  RolloutInput,
  RolloutResult,
  ScanInput,
  SwitchInput,
  SwitchRecord,
} from './types';

export interface RotorActivities {
  /** One rotation of a Secret per namespace: all of the plan's namespaces, or none. */
  claimRotation(input: ClaimInput): Promise<ClaimResult>;
  releaseRotation(input: ClaimInput): Promise<void>;
  discover(input: DiscoverInput): Promise<DiscoveredStage[]>;
  createVersion(input: CreateVersionInput): Promise<CreateVersionResult>;
  switchWorkloads(input: SwitchInput): Promise<SwitchRecord[]>;
  revertWorkloads(input: RevertInput): Promise<SwitchRecord[]>;
  completeCanary(input: CompleteCanaryInput): Promise<void>;
  waitForRollout(input: RolloutInput): Promise<RolloutResult>;
  monitorAnalysis(input: MonitorInput): Promise<CheckResult>;
  scanReferences(input: ScanInput): Promise<Holder[]>;
  deleteVersion(input: DeleteVersionInput): Promise<DeleteVersionResult>;
  finalizeVersion(input: FinalizeInput): Promise<void>;
}
