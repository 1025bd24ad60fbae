import type { MigrationInterface, QueryRunner } from 'typeorm';

export class DayTwoResources1795690196708 implements MigrationInterface {
  name = 'DayTwoResources1795690196708';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("DROP INDEX \"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("CREATE TABLE \"temporary_containers\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"projectId\" varchar(36) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"imageId\" varchar(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" varchar CHECK( \"status\" IN ('CREATING','RUNNING','STOPPED','STARTING','STOPPING','ERROR','UNKNOWN','DELETING') ) NOT NULL, \"statusReason\" varchar(500), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"cpuLimitPercent\" integer, \"cpuWeight\" integer, CONSTRAINT \"FK_a9fc07ff33ef678d2037e16de8e\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_1f13c674b3279da418ca8670986\" FOREIGN KEY (\"projectId\") REFERENCES \"projects\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_containers\"(\"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\" FROM \"containers\"");
    await queryRunner.query("DROP TABLE \"containers\"");
    await queryRunner.query("ALTER TABLE \"temporary_containers\" RENAME TO \"containers\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\" (\"projectId\", \"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\" (\"nodeId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\" (\"projectId\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("DROP INDEX \"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("ALTER TABLE \"containers\" RENAME TO \"temporary_containers\"");
    await queryRunner.query("CREATE TABLE \"containers\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"projectId\" varchar(36) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"imageId\" varchar(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" varchar CHECK( \"status\" IN ('CREATING','RUNNING','STOPPED','STARTING','STOPPING','ERROR','UNKNOWN','DELETING') ) NOT NULL, \"statusReason\" varchar(500), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_a9fc07ff33ef678d2037e16de8e\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_1f13c674b3279da418ca8670986\" FOREIGN KEY (\"projectId\") REFERENCES \"projects\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"containers\"(\"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\" FROM \"temporary_containers\"");
    await queryRunner.query("DROP TABLE \"temporary_containers\"");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\" (\"nodeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\" (\"projectId\", \"name\") ");
  }
}
