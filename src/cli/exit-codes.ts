// The commands' exit codes and their error type live in core, shared with `timebox-agent`.
export { CliError, ExitCode, exitCodeForStatus, exitCodesHelp, type ExitCodeValue } from '../core/exit-codes.js';
