import type { z } from 'zod';

/** "field: message; other: message"; `where` names an issue with no path (the whole input). */
export const zodIssues = (e: z.ZodError, where = ''): string => e.issues.map((i) => `${i.path.join('.') || where}: ${i.message}`).join('; ');
