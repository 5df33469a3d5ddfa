// A response type as it travels: the API's schemas hold Date (the handlers
// pass rows through), JSON carries ISO 8601 strings.

/** `T` after JSON.stringify and JSON.parse: every Date an ISO 8601 string. */
export type Json<T> = T extends Date
  ? string
  : T extends readonly unknown[]
    ? { [K in keyof T]: Json<T[K]> }
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;
