/**
 * `timebox sessions play <id>`: a recording replayed in this terminal with its timing — scaled
 * by the speed, idle gaps capped (as asciinema's --idle-time-limit), so a coffee break is not
 * waited out. Only the output is played (keystrokes, when recorded, are not; a terminal cannot be
 * resized from here). Speed 0 or --no-wait writes it all at once.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { CliError, ExitCode } from '../exit-codes.js';

export interface PlayStep {
  /** How long to wait before writing `data`. */
  waitMs: number;
  data: string;
}

export interface PlayOptions {
  /** 1 is real time, 2 twice as fast; 0 writes everything at once. */
  speed: number;
  /** The longest pause played, in seconds of the recording. */
  idleLimitSeconds: number;
}

/** The output events of an asciicast v2 text with the pauses before them; pure. */
export function playbackSteps(cast: string, o: PlayOptions): PlayStep[] {
  const lines = cast.split('\n').filter((l) => l.trim() !== '');
  const steps: PlayStep[] = [];
  let last = 0;
  for (const [i, line] of lines.slice(1).entries()) {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new CliError(`the recording's line ${i + 2} is not an asciicast event`);
    }
    if (!Array.isArray(event) || typeof event[0] !== 'number' || event[1] !== 'o' || typeof event[2] !== 'string') continue;
    const at = event[0];
    const gap = Math.min(Math.max(0, at - last), o.idleLimitSeconds);
    last = at;
    steps.push({ waitMs: o.speed === 0 ? 0 : Math.round((gap * 1000) / o.speed), data: event[2] });
  }
  return steps;
}

/** A --speed or --idle-limit value: a number from 0 to `max`. */
export function factorArg(value: string, what: string, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new CliError(`${what} must be a number from 0 to ${max}, not ${JSON.stringify(value)}`, ExitCode.usage);
  return n;
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** Writes the steps to `out` in time; stops early when `signal` is aborted. */
export async function play(steps: PlayStep[], out: Writable, signal: AbortSignal): Promise<void> {
  for (const step of steps) {
    if (step.waitMs > 0) await pause(step.waitMs, signal);
    if (signal.aborted) return;
    if (!out.write(Buffer.from(step.data, 'utf8'))) await once(out, 'drain');
  }
}
