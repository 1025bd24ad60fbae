import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ContainerMetrics1795699354133 implements MigrationInterface {
  name = 'ContainerMetrics1795699354133';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_metrics\" (\"containerId\" varchar(36) NOT NULL, \"step\" integer NOT NULL, \"at\" bigint NOT NULL, \"cpuPercent\" double precision NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint, \"rxBytesPerSecond\" double precision NOT NULL, \"txBytesPerSecond\" double precision NOT NULL, \"samples\" integer NOT NULL DEFAULT (1), PRIMARY KEY (\"containerId\", \"step\", \"at\"))");
    await queryRunner.query("CREATE INDEX \"IDX_e19e46d2c1be6c2e225e50e219\" ON \"container_metrics\" (\"step\", \"at\") ");
    await queryRunner.query("DROP INDEX \"IDX_e19e46d2c1be6c2e225e50e219\"");
    await queryRunner.query("CREATE TABLE \"temporary_container_metrics\" (\"containerId\" varchar(36) NOT NULL, \"step\" integer NOT NULL, \"at\" bigint NOT NULL, \"cpuPercent\" double precision NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint, \"rxBytesPerSecond\" double precision NOT NULL, \"txBytesPerSecond\" double precision NOT NULL, \"samples\" integer NOT NULL DEFAULT (1), CONSTRAINT \"FK_cb8e720234c48cf22a87d2dbfda\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, PRIMARY KEY (\"containerId\", \"step\", \"at\"))");
    await queryRunner.query("INSERT INTO \"temporary_container_metrics\"(\"containerId\", \"step\", \"at\", \"cpuPercent\", \"memoryBytes\", \"diskBytes\", \"rxBytesPerSecond\", \"txBytesPerSecond\", \"samples\") SELECT \"containerId\", \"step\", \"at\", \"cpuPercent\", \"memoryBytes\", \"diskBytes\", \"rxBytesPerSecond\", \"txBytesPerSecond\", \"samples\" FROM \"container_metrics\"");
    await queryRunner.query("DROP TABLE \"container_metrics\"");
    await queryRunner.query("ALTER TABLE \"temporary_container_metrics\" RENAME TO \"container_metrics\"");
    await queryRunner.query("CREATE INDEX \"IDX_e19e46d2c1be6c2e225e50e219\" ON \"container_metrics\" (\"step\", \"at\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_e19e46d2c1be6c2e225e50e219\"");
    await queryRunner.query("ALTER TABLE \"container_metrics\" RENAME TO \"temporary_container_metrics\"");
    await queryRunner.query("CREATE TABLE \"container_metrics\" (\"containerId\" varchar(36) NOT NULL, \"step\" integer NOT NULL, \"at\" bigint NOT NULL, \"cpuPercent\" double precision NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint, \"rxBytesPerSecond\" double precision NOT NULL, \"txBytesPerSecond\" double precision NOT NULL, \"samples\" integer NOT NULL DEFAULT (1), PRIMARY KEY (\"containerId\", \"step\", \"at\"))");
    await queryRunner.query("INSERT INTO \"container_metrics\"(\"containerId\", \"step\", \"at\", \"cpuPercent\", \"memoryBytes\", \"diskBytes\", \"rxBytesPerSecond\", \"txBytesPerSecond\", \"samples\") SELECT \"containerId\", \"step\", \"at\", \"cpuPercent\", \"memoryBytes\", \"diskBytes\", \"rxBytesPerSecond\", \"txBytesPerSecond\", \"samples\" FROM \"temporary_container_metrics\"");
    await queryRunner.query("DROP TABLE \"temporary_container_metrics\"");
    await queryRunner.query("CREATE INDEX \"IDX_e19e46d2c1be6c2e225e50e219\" ON \"container_metrics\" (\"step\", \"at\") ");
    await queryRunner.query("DROP INDEX \"IDX_e19e46d2c1be6c2e225e50e219\"");
    await queryRunner.query("DROP TABLE \"container_metrics\"");
  }
}
