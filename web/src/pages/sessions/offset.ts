// Shared with the CLI (`timebox sessions commands`).
export { formatOffset } from '../../../../src/api/recording-offset.js';
