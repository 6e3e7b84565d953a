/**
 * Playback of a recording with asciinema-player: its own bar seeks, the speed is chosen here, and
 * the command list beside it seeks by calling `seekTo`.
 */
import { useEffect, useRef, useState } from 'react';
import * as AsciinemaPlayer from 'asciinema-player';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { pathOf } from '../../../../src/api/endpoint.js';
import { endpoints } from '../../../../src/api/endpoints.js';

const SPEEDS = [0.5, 1, 2, 4, 8];

export interface PlaybackControl {
  seek(seconds: number): void;
}

export function Playback(props: { tenant: string; id: string; startAt?: number; onReady: (c: PlaybackControl) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [speed, setSpeed] = useState(1);
  const position = useRef(props.startAt ?? 0);
  const onReady = useRef(props.onReady);
  onReady.current = props.onReady;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const url = pathOf(endpoints.exportGatewayRecording.path, { tenant: props.tenant, id: props.id });
    const player = AsciinemaPlayer.create({ url, fetchOpts: { credentials: 'same-origin' } }, el, {
      speed,
      startAt: position.current,
      preload: true,
      fit: 'width',
      terminalFontSize: 'small',
      // The bar (seek, play/pause, time) always in view, not only on hover.
      controls: true,
    });
    onReady.current({
      seek(seconds) {
        position.current = seconds;
        void player.seek(seconds).then(() => player.play());
      },
    });
    return () => {
      // A speed change starts a new player where this one was.
      position.current = player.getCurrentTime() || position.current;
      player.dispose();
    };
  }, [props.tenant, props.id, speed]);

  return (
    <div className="playback">
      <div ref={box} className="player" data-testid="player" />
      <div className="inline wrap playback-controls">
        <label htmlFor="playback-speed">Speed</label>
        <select id="playback-speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
          {SPEEDS.map((s) => (
            <option key={s} value={s}>
              {s}×
            </option>
          ))}
        </select>
        <span className="hint">Click the bar to seek, or a command in the list.</span>
      </div>
    </div>
  );
}
