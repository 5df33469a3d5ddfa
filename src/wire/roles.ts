// API key roles, most to least: the one list the API, the CLI and the console share.
// No zod here, so the console can import the list and the ranking at runtime.
export const ROLES = ['admin', 'operator', 'submitter', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` may do what `needed` may: a role holds every right of the roles after it in ROLES. */
export const roleAtLeast = (role: Role, needed: Role): boolean => ROLES.indexOf(role) <= ROLES.indexOf(needed);
