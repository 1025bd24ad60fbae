/** Topics are keyed by name; payloads are plain JSON so that a Redis pubsub can carry them. */
export const MetricsTopics = {
  /** Published per container (the topic id is the container id). */
  sampled: 'CONTAINER_METRICS_SAMPLED',
} as const;

export interface ContainerMetricsPayload {
  containerId: string;
  /** When the sample was taken, milliseconds since the epoch. */
  at: number;
  cpuPercent: number;
  memoryBytes: number;
  diskBytes: number | null;
  rxBytesPerSecond: number;
  txBytesPerSecond: number;
}
