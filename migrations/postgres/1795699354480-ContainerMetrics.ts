import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ContainerMetrics1795699354480 implements MigrationInterface {
  name = 'ContainerMetrics1795699354480';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_metrics\" (\"containerId\" character varying(36) NOT NULL, \"step\" integer NOT NULL, \"at\" bigint NOT NULL, \"cpuPercent\" double precision NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint, \"rxBytesPerSecond\" double precision NOT NULL, \"txBytesPerSecond\" double precision NOT NULL, \"samples\" integer NOT NULL DEFAULT '1', CONSTRAINT \"PK_2ef40f114115700a3a69d8ab6ca\" PRIMARY KEY (\"containerId\", \"step\", \"at\"))");
    await queryRunner.query("CREATE INDEX \"IDX_e19e46d2c1be6c2e225e50e219\" ON \"container_metrics\"  (\"step\", \"at\") ");
    await queryRunner.query("ALTER TABLE \"container_metrics\" ADD CONSTRAINT \"FK_cb8e720234c48cf22a87d2dbfda\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_metrics\" DROP CONSTRAINT \"FK_cb8e720234c48cf22a87d2dbfda\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_e19e46d2c1be6c2e225e50e219\"");
    await queryRunner.query("DROP TABLE \"container_metrics\"");
  }
}
