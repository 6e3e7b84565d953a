/** The target kinds that issue credentials instead of changing accounts: SSH and X.509 certificates, tokens. */
export { sshCertificateConnector } from './ssh-certificate.js';
export { x509CertificateConnector } from './x509-certificate.js';
export { securityTokenConnector } from './security-token.js';
