// The User-Agent of every webhook request Lookout sends (guarded-post.ts):
// receivers can tell who calls, and tracing leaves these requests out (no
// client span naming a webhook's URL, no trace context sent to another party).
export const WEBHOOK_USER_AGENT = 'lookout-webhook';
