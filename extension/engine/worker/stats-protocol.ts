/** Messages between runStatsInWorker and the statistics worker. */
import type { BadRecord } from '../datasets/records';
import type { StatsJobOptions, StatsJobResult, StatsProgress } from '../analysis/stats/stats-job';
import type { ErrorInfo } from '../errors';

export type ToStatsWorker = { type: 'run'; options: StatsJobOptions } | { type: 'cancel' };

export type FromStatsWorker =
  | { type: 'progress'; progress: StatsProgress }
  | { type: 'bad-record'; record: BadRecord }
  | { type: 'done'; result: StatsJobResult }
  | { type: 'failed'; error: ErrorInfo; cancelled: boolean };
