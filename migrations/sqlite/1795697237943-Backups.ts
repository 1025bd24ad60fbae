import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Backups1795697237943 implements MigrationInterface {
  name = 'Backups1795697237943';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"backup_schedules\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"cron\" varchar(120) NOT NULL, \"keep\" integer NOT NULL, \"enabled\" boolean NOT NULL, \"lastRunAt\" datetime, \"nextRunAt\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"REL_4489726df7e4d809c61340ba45\" UNIQUE (\"containerId\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_4489726df7e4d809c61340ba45\" ON \"backup_schedules\" (\"containerId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_0b26448202dde60ecff683aacc\" ON \"backup_schedules\" (\"enabled\", \"nextRunAt\") ");
    await queryRunner.query("CREATE TABLE \"container_backups\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"instanceName\" varchar(63) NOT NULL, \"lxdName\" varchar(63) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('CREATING','READY','FAILED','DELETING','MISSING') ) NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" varchar(36), \"operationId\" varchar(36), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\" (\"accountId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\" (\"scheduleId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\" (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\" (\"containerId\", \"id\") ");
    await queryRunner.query("DROP INDEX \"IDX_4489726df7e4d809c61340ba45\"");
    await queryRunner.query("DROP INDEX \"IDX_0b26448202dde60ecff683aacc\"");
    await queryRunner.query("CREATE TABLE \"temporary_backup_schedules\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"cron\" varchar(120) NOT NULL, \"keep\" integer NOT NULL, \"enabled\" boolean NOT NULL, \"lastRunAt\" datetime, \"nextRunAt\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"REL_4489726df7e4d809c61340ba45\" UNIQUE (\"containerId\"), CONSTRAINT \"FK_4489726df7e4d809c61340ba453\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT \"FK_edd8478bf00143849d45f171b27\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_backup_schedules\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"cron\", \"keep\", \"enabled\", \"lastRunAt\", \"nextRunAt\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"cron\", \"keep\", \"enabled\", \"lastRunAt\", \"nextRunAt\", \"createdAt\", \"updatedAt\" FROM \"backup_schedules\"");
    await queryRunner.query("DROP TABLE \"backup_schedules\"");
    await queryRunner.query("ALTER TABLE \"temporary_backup_schedules\" RENAME TO \"backup_schedules\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_4489726df7e4d809c61340ba45\" ON \"backup_schedules\" (\"containerId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_0b26448202dde60ecff683aacc\" ON \"backup_schedules\" (\"enabled\", \"nextRunAt\") ");
    await queryRunner.query("DROP INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("DROP INDEX \"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("CREATE TABLE \"temporary_container_backups\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"instanceName\" varchar(63) NOT NULL, \"lxdName\" varchar(63) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('CREATING','READY','FAILED','DELETING','MISSING') ) NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" varchar(36), \"operationId\" varchar(36), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_5cde8f9d9de2d17da676214a175\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, CONSTRAINT \"FK_2bcb94fdc9046e6a6194089ab29\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_511ff36c047d9b7892fdce6ec46\" FOREIGN KEY (\"scheduleId\") REFERENCES \"backup_schedules\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_container_backups\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\" FROM \"container_backups\"");
    await queryRunner.query("DROP TABLE \"container_backups\"");
    await queryRunner.query("ALTER TABLE \"temporary_container_backups\" RENAME TO \"container_backups\"");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\" (\"accountId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\" (\"scheduleId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\" (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\" (\"containerId\", \"id\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("DROP INDEX \"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("ALTER TABLE \"container_backups\" RENAME TO \"temporary_container_backups\"");
    await queryRunner.query("CREATE TABLE \"container_backups\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"instanceName\" varchar(63) NOT NULL, \"lxdName\" varchar(63) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('CREATING','READY','FAILED','DELETING','MISSING') ) NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" varchar(36), \"operationId\" varchar(36), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"container_backups\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\" FROM \"temporary_container_backups\"");
    await queryRunner.query("DROP TABLE \"temporary_container_backups\"");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\" (\"containerId\", \"id\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\" (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\" (\"scheduleId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\" (\"accountId\") ");
    await queryRunner.query("DROP INDEX \"IDX_0b26448202dde60ecff683aacc\"");
    await queryRunner.query("DROP INDEX \"IDX_4489726df7e4d809c61340ba45\"");
    await queryRunner.query("ALTER TABLE \"backup_schedules\" RENAME TO \"temporary_backup_schedules\"");
    await queryRunner.query("CREATE TABLE \"backup_schedules\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"cron\" varchar(120) NOT NULL, \"keep\" integer NOT NULL, \"enabled\" boolean NOT NULL, \"lastRunAt\" datetime, \"nextRunAt\" datetime NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"REL_4489726df7e4d809c61340ba45\" UNIQUE (\"containerId\"))");
    await queryRunner.query("INSERT INTO \"backup_schedules\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"cron\", \"keep\", \"enabled\", \"lastRunAt\", \"nextRunAt\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"cron\", \"keep\", \"enabled\", \"lastRunAt\", \"nextRunAt\", \"createdAt\", \"updatedAt\" FROM \"temporary_backup_schedules\"");
    await queryRunner.query("DROP TABLE \"temporary_backup_schedules\"");
    await queryRunner.query("CREATE INDEX \"IDX_0b26448202dde60ecff683aacc\" ON \"backup_schedules\" (\"enabled\", \"nextRunAt\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_4489726df7e4d809c61340ba45\" ON \"backup_schedules\" (\"containerId\") ");
    await queryRunner.query("DROP INDEX \"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("DROP INDEX \"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("DROP TABLE \"container_backups\"");
    await queryRunner.query("DROP INDEX \"IDX_0b26448202dde60ecff683aacc\"");
    await queryRunner.query("DROP INDEX \"IDX_4489726df7e4d809c61340ba45\"");
    await queryRunner.query("DROP TABLE \"backup_schedules\"");
  }
}
