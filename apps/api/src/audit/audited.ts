// Which routes the audit trail records: every operator action that changes a device, a credential or a
// queued request. The route names its action; the interceptor records who, when, what and the outcome.
import { SetMetadata } from '@nestjs/common';

export const AUDIT_ACTIONS = [
  'write',
  'write-composite',
  'execute',
  'create',
  'delete',
  'write-attributes',
  'observe',
  'cancel-observation',
  'deregister',
  'credential-put',
  'credential-delete',
  'bootstrap-config-put',
  'bootstrap-config-delete',
  'bootstrap-trigger',
  'request-cancel',
  'requests-cancel-all',
  'model-upload',
  'group-create',
  'group-delete',
  'group-operation',
  'group-request-cancel',
  'campaign-create',
  'campaign-pause',
  'campaign-resume',
  'campaign-cancel',
  'firmware-upload',
  'firmware-delete',
  'firmware-update',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_ACTION = 'lwm2m:audit-action';

/** Records every call of the route in the audit trail under `action`. */
export const Audited = (action: AuditAction): MethodDecorator => SetMetadata(AUDIT_ACTION, action);
