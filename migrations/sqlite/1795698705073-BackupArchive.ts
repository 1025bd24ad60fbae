import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BackupArchive1795698705073 implements MigrationInterface {
  name = 'BackupArchive1795698705073';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("DROP INDEX \"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("CREATE TABLE \"temporary_container_backups\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"instanceName\" varchar(63) NOT NULL, \"lxdName\" varchar(63) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('CREATING','READY','FAILED','DELETING','MISSING') ) NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" varchar(36), \"operationId\" varchar(36), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"location\" varchar CHECK( \"location\" IN ('NODE','ARCHIVE') ) NOT NULL DEFAULT ('NODE'), \"sha256\" varchar(64), CONSTRAINT \"FK_511ff36c047d9b7892fdce6ec46\" FOREIGN KEY (\"scheduleId\") REFERENCES \"backup_schedules\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION, CONSTRAINT \"FK_2bcb94fdc9046e6a6194089ab29\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_5cde8f9d9de2d17da676214a175\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_container_backups\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\" FROM \"container_backups\"");
    await queryRunner.query("DROP TABLE \"container_backups\"");
    await queryRunner.query("ALTER TABLE \"temporary_container_backups\" RENAME TO \"container_backups\"");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\" (\"containerId\", \"id\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\" (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\" (\"scheduleId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\" (\"accountId\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\"");
    await queryRunner.query("DROP INDEX \"IDX_511ff36c047d9b7892fdce6ec4\"");
    await queryRunner.query("DROP INDEX \"IDX_637a3186dccd76e4225f14574b\"");
    await queryRunner.query("DROP INDEX \"IDX_2b979884d6e7b5d263b7e280d3\"");
    await queryRunner.query("ALTER TABLE \"container_backups\" RENAME TO \"temporary_container_backups\"");
    await queryRunner.query("CREATE TABLE \"container_backups\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"instanceName\" varchar(63) NOT NULL, \"lxdName\" varchar(63) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('CREATING','READY','FAILED','DELETING','MISSING') ) NOT NULL, \"sizeBytes\" bigint, \"scheduleId\" varchar(36), \"operationId\" varchar(36), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_511ff36c047d9b7892fdce6ec46\" FOREIGN KEY (\"scheduleId\") REFERENCES \"backup_schedules\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION, CONSTRAINT \"FK_2bcb94fdc9046e6a6194089ab29\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_5cde8f9d9de2d17da676214a175\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"container_backups\"(\"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\") SELECT \"id\", \"containerId\", \"accountId\", \"accountPath\", \"nodeId\", \"instanceName\", \"lxdName\", \"state\", \"sizeBytes\", \"scheduleId\", \"operationId\", \"createdAt\" FROM \"temporary_container_backups\"");
    await queryRunner.query("DROP TABLE \"temporary_container_backups\"");
    await queryRunner.query("CREATE INDEX \"IDX_2bcb94fdc9046e6a6194089ab2\" ON \"container_backups\" (\"accountId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_511ff36c047d9b7892fdce6ec4\" ON \"container_backups\" (\"scheduleId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_637a3186dccd76e4225f14574b\" ON \"container_backups\" (\"nodeId\", \"lxdName\") ");
    await queryRunner.query("CREATE INDEX \"IDX_2b979884d6e7b5d263b7e280d3\" ON \"container_backups\" (\"containerId\", \"id\") ");
  }
}
