/** Operator groups: requesters and approvers named by group in policies. */
import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { objectName, tenantParamsSchema, uuidParam } from '../fields.js';

export const groupSchema = z.object({ id: z.string(), name: z.string(), memberIds: z.array(z.string()), createdAt: z.string() });
const memberParams = tenantParamsSchema.extend({ groupId: uuidParam, operatorId: uuidParam });

export const groupEndpoints = {
  listGroups: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/groups',
    tags: ['groups'],
    auth: 'session',
    params: tenantParamsSchema,
    response: { 200: z.object({ items: z.array(groupSchema) }) },
  }),
  createGroup: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/groups',
    tags: ['groups'],
    auth: 'session',
    params: tenantParamsSchema,
    body: z.strictObject({ name: objectName, memberIds: z.array(uuidParam).max(500).default([]) }),
    response: { 201: groupSchema },
  }),
  addGroupMember: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/groups/:groupId/members/:operatorId',
    tags: ['groups'],
    auth: 'session',
    params: memberParams,
  }),
  removeGroupMember: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/groups/:groupId/members/:operatorId',
    tags: ['groups'],
    auth: 'session',
    params: memberParams,
  }),
};
