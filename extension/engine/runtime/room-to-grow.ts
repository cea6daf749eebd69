/**
 * Capacity in rows for `rows` rows plus room to grow: the next call on a cache or a document is usually one
 * more position (a decode step, a live append or edit), which then writes in place instead of copying.
 */
export const withRoom = (rows: number): number => rows + Math.max(64, rows >> 2);
