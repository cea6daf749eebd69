/** The statistics worker's one request and the events it sends for it, over engine/channel. */
import type { BadRecord } from '../datasets/records';
import type { StatsJobOptions, StatsJobResult, StatsProgress } from '../analysis/stats/stats-job';
import { requestType } from '../channel/channel';

export const RunStats = requestType<{ options: StatsJobOptions }, StatsJobResult>('runStats');

export type StatsEvent = { type: 'progress'; progress: StatsProgress } | { type: 'badRecord'; record: BadRecord };
