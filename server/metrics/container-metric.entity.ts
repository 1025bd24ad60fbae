import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Container } from '../containers/container.entity';
import { bigintColumn } from '../nodes/node.entity';

/** Seconds covered by one rolled-up row. */
export const ROLLUP_SECONDS = 300;

/**
 * One point of a container's metrics history. `step` 0 is a raw sample (kept for
 * CORRAL_METRICS_RAW_HOURS); `step` ROLLUP_SECONDS is the average of the raw samples of that
 * window (kept for CORRAL_METRICS_DAYS). `at` is milliseconds since the epoch: for a raw sample
 * the start of its sampling interval, for a rollup the start of its window, so that two replicas
 * sampling the same interval write the same key once. Rows go with their container.
 */
@Entity('container_metrics')
@Index(['step', 'at'])
export class ContainerMetric {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  containerId!: string;

  @ManyToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  @PrimaryColumn({ type: 'integer' })
  step!: number;

  @PrimaryColumn(bigintColumn)
  at!: number;

  /** Percent of one CPU (200 = two CPUs busy). */
  @Column({ type: 'double precision' })
  cpuPercent!: number;

  @Column(bigintColumn)
  memoryBytes!: number;

  @Column({ ...bigintColumn, nullable: true })
  diskBytes!: number | null;

  @Column({ type: 'double precision' })
  rxBytesPerSecond!: number;

  @Column({ type: 'double precision' })
  txBytesPerSecond!: number;

  /** How many raw samples this row stands for (1 for a raw sample). */
  @Column({ type: 'integer', default: 1 })
  samples!: number;
}
