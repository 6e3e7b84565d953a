import { z } from 'zod';
import { roles as allRoles } from '../../core/roles.js';
import { endpoint } from '../endpoint.js';
import { name, tenantParamsSchema, tenantSlugSchema, pageQuerySchema, pageSchema } from '../fields.js';
import { invitationIssued } from './identity.js';

export const role = z.enum(allRoles);
/**
 * A person's address, wherever it comes from (an admin's form, an identity provider's claim).
 * Deliberately loose: internal domains without a dot (admin@localhost) are real addresses here;
 * the text rule keeps out controls, bidi and invisible characters.
 */
export const emailAddress = name(320)
  .regex(/^[^\s@]+@[^\s@]+$/, { error: 'must be an email address' })
  // Full-width and other compatibility forms ("ｂob@example.com") look like another address and
  // would be a second account beside it: written as usual, or refused.
  .refine((e) => e.normalize('NFKC') === e, { error: 'write the address in its usual characters (no full-width or other compatibility forms)' });
export const tenantView = z.object({ id: z.guid(), slug: z.string(), name: z.string(), roles: z.array(role) });
export const operatorView = z.object({ id: z.guid(), email: z.string(), displayName: z.string(), disabled: z.boolean() });
export const memberView = z.object({
  operator: operatorView,
  roles: z.array(role),
  disabledHere: z.boolean().describe('Offboarded from this tenant (operator.disabled: everywhere)'),
});
export const addMemberBody = z.strictObject({
  email: emailAddress,
  displayName: name(200).optional().describe('A suggestion for a new account; the invitee may change it'),
  roles: z.array(role).min(1).max(allRoles.length),
});
export const pendingInvitationView = z.object({
  id: z.guid(),
  email: z.string(),
  roles: z.array(role),
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  invitedBy: z.guid().nullable().describe('The operator who issued it'),
});
export const memberUpdated = z.object({
  operator: operatorView.omit({ disabled: true }),
  roles: z.array(role),
  disabledHere: z.boolean().describe('Still offboarded from this tenant: new roles do not let them back in (enable them for that)'),
});

export const tenantEndpoints = {
  listTenants: endpoint({
    method: 'GET',
    path: '/api/v1/tenants',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Tenants I belong to (platform admins: all)',
    query: pageQuerySchema,
    response: { 200: pageSchema(tenantView) },
  }),
  createTenant: endpoint({
    method: 'POST',
    path: '/api/v1/tenants',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Create a tenant (platform admins); the creator becomes its owner',
    body: z.strictObject({ slug: tenantSlugSchema, name: name(200) }),
    response: { 201: tenantView },
  }),
  listMembers: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/members',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Members of a tenant and their roles',
    params: tenantParamsSchema,
    query: pageQuerySchema,
    response: { 200: pageSchema(memberView) },
  }),
  addMember: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/members',
    auth: 'session',
    tags: ['tenants'],
    summary: "Invite someone to the tenant (201, the same answer whether they have an account or not), or change a member's roles (200)",
    params: tenantParamsSchema,
    body: addMemberBody,
    response: { 200: memberUpdated, 201: invitationIssued },
  }),
  listInvitations: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/invitations',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Invitations to the tenant that can still be accepted, newest first',
    params: tenantParamsSchema,
    response: { 200: z.object({ items: z.array(pendingInvitationView) }) },
  }),
  withdrawInvitation: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/invitations/:invitationId',
    auth: 'session',
    tags: ['tenants'],
    summary: "Withdraw a pending invitation: its link stops working at once (an owner's invitation: owners only)",
    params: tenantParamsSchema.extend({ invitationId: z.guid() }),
    response: { 204: z.null() },
  }),
  removeMember: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/members/:operatorId',
    auth: 'session',
    tags: ['tenants'],
    summary: 'Remove a member from the tenant',
    params: tenantParamsSchema.extend({ operatorId: z.guid() }),
    response: { 204: z.null() },
  }),
};
