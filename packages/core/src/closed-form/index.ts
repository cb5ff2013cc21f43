// The closed-form cross-attention edit (methods.md §1): host float64 math plus the site-level driver.
export { hostMatrix, checkHostMatrix, frobeniusNorm, frobeniusDistance } from './host-matrix';
export type { HostMatrix } from './host-matrix';
export {
  closedFormDefaults,
  resolveClosedFormOptions,
  buildKeySystem,
  editWithKeySystem,
  erasureResiduals,
  closedFormEdit,
} from './key-system';
export type {
  ClosedFormOptions,
  ResolvedClosedFormOptions,
  EditKeys,
  KeySystem,
  ClosedFormEditInput,
} from './key-system';
export { anchorEditFactor, anchorFactorFromKeySystem, applyEditFactor } from './anchor-factor';
export type { AnchorEditKeys } from './anchor-factor';
export { uceTensorTargets } from './uce-targets';
export { editCrossAttentionSites } from './edit-sites';
export type {
  MatrixInput,
  CrossAttentionTargets,
  CrossAttentionEditPlan,
  CrossAttentionEditOptions,
  ProjectionEditStatistics,
  CrossAttentionEditReport,
} from './edit-sites';
