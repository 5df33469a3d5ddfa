// API key roles, most to least: the one list the API, the CLI and the console share.
export const ROLES = ['admin', 'operator', 'submitter', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
