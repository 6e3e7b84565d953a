/** Reported to the server at enrolment and in heartbeats. */
export const AGENT_VERSION = '0.1.0';
