import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Backups1795697238431 implements MigrationInterface {
  name = 'Backups1795697238431';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"backup_schedules\" (\"id\" character varying(36) NOT NULL, \"containerId\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"accountPath\" character varying(120) NOT NULL, \"cron\" character varying(120) NOT NULL, \"keep\" integer NOT NULL, \"enabled\" boolean NOT NULL, \"lastRunAt\" TIMESTAMP, \"nextRunAt\" TIMESTAMP NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), \"updatedAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"REL_4489726df7e4d809c61340ba45\" UNIQUE (\"containerId\"), CONSTRAINT \"PK_14429218ef83c8eae127050e2fa\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_4489726df7e4d809c61340ba45\" ON \"backup_schedules\"  (\"containerId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_0b26448202dde60ecff683aacc\" ON \"backup_schedules\"  (\"enabled\", \"nextRunAt\") ");
    await queryRunner.query("CREATE TYPE \"public\".\"container_backups_state_enum\" AS ENUM('CREATING', 'READY', 'FAILED', 'DELETING', 'MISSING')");
    await queryRunner.query("CREATE TABLE \"container_backups\" (\"id\" character varying(36) NOT NULL, \"containerId\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"accountPath\" character varying(120) NOT NULL, \"nodeId\" character varying(36) NOT NULL, \"instanceName\" character varying(63) NOT NULL, \"lxdName\" character varying(63) NOT NULL, \"state\" \"public\".\"container_backups_state_enum\" NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" character varying(36), \"operationId\" character varying(36), \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_fb36852e219159375e5350ad764\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\"  (\"accountId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\"  (\"scheduleId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\"  (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\"  (\"containerId\", \"id\") ");
    await queryRunner.query("ALTER TABLE \"backup_schedules\" ADD CONSTRAINT \"FK_4489726df7e4d809c61340ba453\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"backup_schedules\" ADD CONSTRAINT \"FK_edd8478bf00143849d45f171b27\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"container_backups\" ADD CONSTRAINT \"FK_5cde8f9d9de2d17da676214a175\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"container_backups\" ADD CONSTRAINT \"FK_2bcb94fdc9046e6a6194089ab29\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"container_backups\" ADD CONSTRAINT \"FK_511ff36c047d9b7892fdce6ec46\" FOREIGN KEY (\"scheduleId\") REFERENCES \"backup_schedules\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_backups\" DROP CONSTRAINT \"FK_511ff36c047d9b7892fdce6ec46\"");
    await queryRunner.query("ALTER TABLE \"container_backups\" DROP CONSTRAINT \"FK_2bcb94fdc9046e6a6194089ab29\"");
    await queryRunner.query("ALTER TABLE \"container_backups\" DROP CONSTRAINT \"FK_5cde8f9d9de2d17da676214a175\"");
    await queryRunner.query("ALTER TABLE \"backup_schedules\" DROP CONSTRAINT \"FK_edd8478bf00143849d45f171b27\"");
    await queryRunner.query("ALTER TABLE \"backup_schedules\" DROP CONSTRAINT \"FK_4489726df7e4d809c61340ba453\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("DROP TABLE \"container_backups\"");
    await queryRunner.query("DROP TYPE \"public\".\"container_backups_state_enum\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_0b26448202dde60ecff683aacc\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_4489726df7e4d809c61340ba45\"");
    await queryRunner.query("DROP TABLE \"backup_schedules\"");
  }
}
