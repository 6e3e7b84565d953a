/**
 * The words of a new host account's credential email, written once for both senders: the agent
 * (SMTP from the endpoint) and the server (`serverPassword` grants with `server-email` delivery).
 */

export interface CredentialMessage {
  to: string;
  username: string;
  password: string;
  /** The host the account lives on, as the user should read it. */
  hostName: string;
  startAt: Date;
  endAt: Date;
  endAction: 'disable' | 'delete';
}

const when = (d: Date) => `${d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')} UTC`;

export function credentialEmailText(m: CredentialMessage): string {
  return [
    `A temporary account has been created for you on ${m.hostName}.`,
    '',
    `Username: ${m.username}`,
    `Password: ${m.password}`,
    '',
    `You can log in from ${when(m.startAt)} until ${when(m.endAt)}.`,
    `At ${when(m.endAt)} you are logged off and the account is ${m.endAction === 'delete' ? 'deleted' : 'disabled'}, even if you are still working.`,
    '',
    'If you did not expect this message, tell your administrator.',
    '',
  ].join('\n');
}
