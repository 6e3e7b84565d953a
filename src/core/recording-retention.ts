/** How long a tenant keeps gateway recordings (days): the bounds and the default, one place. */
export const RETENTION_DAYS = { default: 365, min: 1, max: 3650 } as const;
