import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { tenantParamsSchema } from '../fields.js';

export const memberParams = tenantParamsSchema.extend({ operatorId: z.guid({ error: 'must be an operator id (UUID)' }) });
export const operatorParams = z.object({ operatorId: z.guid({ error: 'must be an operator id (UUID)' }) });
export const reasonBody = z.strictObject({ reason: z.string().trim().min(3, { error: 'say why (at least 3 characters)' }).max(1000) });
export const report = z.object({
  sessionsAndTokensEnded: z.number().int(),
  requestsCancelled: z.number().int(),
  grantsRevoked: z.number().int().describe('Grants whose revocation started; each ends through the revoke job (target, verify, audit)'),
  approvalsRerouted: z.number().int(),
  approvalsFlagged: z.number().int().describe('Requests that can no longer reach a quorum: an alert each'),
});

export const offboardingEndpoints = {
  disableMember: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/members/:operatorId/disable',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Offboard a member here: end sessions and tokens, cancel requests, revoke grants, re-route approvals',
    params: memberParams,
    body: reasonBody,
    response: { 200: report },
  }),
  enableMember: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/members/:operatorId/enable',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Let a disabled member sign in here again (no grant comes back)',
    params: memberParams,
    response: { 204: z.null() },
  }),
  endMemberSessions: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/members/:operatorId/end-sessions',
    auth: 'session',
    tags: ['tenants'],
    summary: "End a member's sessions and revoke their API tokens, without disabling them",
    params: memberParams,
    body: reasonBody,
    response: { 200: z.object({ sessionsAndTokensEnded: z.number().int() }) },
  }),
  disableOperator: endpoint({
    method: 'POST',
    path: '/api/v1/operators/:operatorId/disable',
    auth: 'session',
    tags: ['operators'],
    summary: 'Platform administrators: offboard an operator from every tenant',
    params: operatorParams,
    body: reasonBody,
    response: { 200: report },
  }),
  enableOperator: endpoint({
    method: 'POST',
    path: '/api/v1/operators/:operatorId/enable',
    auth: 'session',
    tags: ['operators'],
    summary: 'Platform administrators: let a disabled operator sign in again (no grant comes back)',
    params: operatorParams,
    response: { 204: z.null() },
  }),
};
