/**
 * Names for the shapes the dashboard and the CLI read, all inferred from the contract's schemas
 * (never written by hand): `Grant` is what `getGrant` answers, `Target` what `getTarget` answers.
 */
import type { z } from 'zod';
import type { AgentHealthSchema } from '../agent-wire/protocol.js';
import type { CallArgs, CallResult, ItemOf } from './client.js';
import type { connectInfoSchema, grantSchema } from './fields.js';

export type { CallArgs, CallResult, ItemOf };
export type { GrantState } from '../core/lifecycle.js';
export type { Permission, Role } from '../core/roles.js';
export type { Weekday } from '../core/access-window.js';
export type { PolicyRules, ApprovalLevel } from '../core/policy-rules.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type Grant = z.output<typeof grantSchema>;
export type Credential = CallResult<'revealCredential'>;
export type ConnectInfo = z.output<typeof connectInfoSchema>;
export type RotatedPassword = CallResult<'rotateJitAccount'>;
export type Me = CallResult<'me'>;
export type Operator = Me['operator'];
export type Membership = Me['memberships'][number];
export type Tenant = ItemOf<'listTenants'>;
export type Member = ItemOf<'listMembers'>;
export type AddedMember = CallResult<'addMember'>;
export type PendingInvitation = ItemOf<'listInvitations'>;
export type OffboardingReport = CallResult<'disableMember'>;
export type Target = CallResult<'getTarget'>;
export type CheckReport = CallResult<'checkTarget'>;
export type Entitlement = ItemOf<'listEntitlements'>;
export type Policy = ItemOf<'listPolicies'>;
export type AccessWindow = Policy['rules']['windows'][number];
export type AutoApproveRule = Policy['rules']['autoApprove'][number];
export type Simulation = CallResult<'simulatePolicy'>;
export type Group = ItemOf<'listGroups'>;
export type InboxItem = ItemOf<'listApprovals'>;
export type JitAccount = ItemOf<'listJitAccounts'>;
export type JitSettings = CallResult<'getJitSettings'>;
export type ApiToken = ItemOf<'listTokens'>;
export type AuditEvent = ItemOf<'listAudit'>;
export type VerifyReport = CallResult<'verifyAudit'>;
export type NotificationSettings = CallResult<'getNotificationSettings'>;
export type Webhook = ItemOf<'listWebhooks'>;
export type Notification = ItemOf<'listNotifications'>;
export type SsoSettings = CallResult<'getSsoSettings'>;
/** What an agent's heartbeat reports (counts and versions only); the contract serves it as sent. */
export type AgentHealth = z.output<typeof AgentHealthSchema>;
export type Agent = ItemOf<'listAgents'>;
export type EnrolmentToken = CallResult<'createAgentEnrolmentToken'>;
export type Review = ItemOf<'listReviews'>;
export type Alert = ItemOf<'listAlerts'>;
export type CertificateAuthority = ItemOf<'listCas'>;
export type AuditNames = AuditEvent['names'];
export type TargetKind = ItemOf<'listTargetKinds'>;
export type TargetSettings = CallResult<'getTargetSettings'>;
export type GatewayInfo = CallResult<'getGateway'>;
export type SshKey = ItemOf<'listSshKeys'>;
export type GatewaySession = ItemOf<'listGatewaySessions'>;
export type SessionCommand = ItemOf<'listGatewaySessionCommands'>;
export type CommandHit = ItemOf<'searchGatewayCommands'>;
