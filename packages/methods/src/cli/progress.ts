/**
 * Progress display for the CLI, fed by the methods' `onProgress` events: on a TTY one line redrawn in place
 * (`stage [#####-----] step/total metrics`); otherwise plain lines, one when a stage starts, at every further tenth
 * of it and when it ends (so logs stay short).
 */
import type { ProgressEvent, ProgressListener } from '@erase/core';

/** Where output goes (process.stdout/stderr, or a test double). */
export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** A progress display. */
export interface ProgressDisplay {
  readonly listener: ProgressListener;
  /** Ends the in-place line (TTY). */
  finish(): void;
}

const BAR = 24;

function metricsText(event: ProgressEvent): string {
  const parts = Object.entries(event.metrics ?? {}).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`);
  if (event.message) parts.push(event.message);
  return parts.join(' ');
}

/** A display writing to `stream` (TTY: in place; else lines). */
export function createProgress(stream: OutputStream): ProgressDisplay {
  const tty = stream.isTTY === true;
  let stage: string | undefined;
  let lastTenth = -1;
  let open = false;
  const listener: ProgressListener = (event) => {
    const total = Math.max(event.total, 1);
    const fraction = Math.min(Math.max(event.step / total, 0), 1);
    if (tty) {
      if (stage !== undefined && stage !== event.stage && open) stream.write('\n');
      const filled = Math.round(fraction * BAR);
      stream.write(`\r${event.stage} [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${event.step}/${event.total} ${metricsText(event)}\x1b[K`);
      open = true;
      stage = event.stage;
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (event.stage === stage && tenth <= lastTenth) return;
    stream.write(`${`[${event.stage}] ${event.step}/${event.total} ${metricsText(event)}`.trimEnd()}\n`);
    stage = event.stage;
    lastTenth = tenth;
  };
  return {
    listener,
    finish: () => {
      if (tty && open) stream.write('\n');
      open = false;
    },
  };
}
