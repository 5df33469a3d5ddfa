// A migration: a name that sorts in order, an up step and a down step.
import type { Queryable } from '../pool.js';

export interface Migration {
  name: string;
  up(db: Queryable): Promise<void>;
  down(db: Queryable): Promise<void>;
}
