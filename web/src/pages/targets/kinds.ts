/**
 * The target kinds, as the server declares them (GET /target-kinds): labels, help and each kind's
 * config schema, from which the target forms are built. Asked once per page load.
 */
import { useEffect, useState } from 'react';
import { call, messageOf } from '../../api';
import type { TargetKindInfo } from './json-schema';

let loading: Promise<TargetKindInfo[]> | null = null;

export function loadTargetKinds(): Promise<TargetKindInfo[]> {
  loading ??= call('listTargetKinds').then(
    // The config schema is a JSON Schema document (the contract types it as an object): read as such.
    (r) => r.items as TargetKindInfo[],
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading!;
}

export function useTargetKinds(): { kinds: TargetKindInfo[] | null; error: string | null } {
  const [kinds, setKinds] = useState<TargetKindInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    loadTargetKinds().then(
      (k) => live && setKinds(k),
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, []);
  return { kinds, error };
}
