import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodesAndContainers1795687842517 implements MigrationInterface {
  name = 'NodesAndContainers1795687842517';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"clusters\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"name\" varchar(63) NOT NULL, \"storageDriver\" varchar CHECK( \"storageDriver\" IN ('btrfs','zfs','lvm','dir') ) NOT NULL, \"storagePool\" varchar(63) NOT NULL, \"backupDirectory\" varchar(255) NOT NULL, \"cpuOvercommit\" real NOT NULL, \"memoryOvercommit\" real NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_9866753a0c6ffd4adebb5cc236\" ON \"clusters\" (\"name\") ");
    await queryRunner.query("CREATE TABLE \"nodes\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"url\" varchar(255) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" varchar CHECK( \"status\" IN ('READY','OFFLINE','MAINTENANCE') ) NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT (0), \"memoryBytes\" bigint NOT NULL DEFAULT (0), \"diskBytes\" bigint NOT NULL DEFAULT (0), \"lastError\" varchar(500), \"lastSeenAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\" (\"url\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\" (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"containers\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"projectId\" varchar(36) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"imageId\" varchar(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" varchar CHECK( \"status\" IN ('CREATING','RUNNING','STOPPED','STARTING','STOPPING','ERROR','UNKNOWN','DELETING') ) NOT NULL, \"statusReason\" varchar(500), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\" (\"nodeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\" (\"projectId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"images\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"name\" varchar(63) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"sizeBytes\" bigint NOT NULL, \"path\" varchar(500) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_d46ee7424fcbbc896a457784f1\" ON \"images\" (\"name\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_d5028130e3282c7b47809ab2c1\" ON \"images\" (\"fingerprint\") ");
    await queryRunner.query("CREATE TABLE \"licences\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"licensee\" varchar(200) NOT NULL, \"maxNodes\" integer NOT NULL, \"maxContainers\" integer NOT NULL, \"expiresAt\" datetime NOT NULL, \"document\" text NOT NULL, \"installedAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE TABLE \"lxd_identity\" (\"id\" varchar(32) PRIMARY KEY NOT NULL, \"certificate\" text NOT NULL, \"key\" text NOT NULL)");
    await queryRunner.query("CREATE TABLE \"operations\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"accountId\" varchar(36) NOT NULL, \"accountPath\" varchar(120) NOT NULL, \"containerId\" varchar(36), \"nodeId\" varchar(36), \"action\" varchar(64) NOT NULL, \"state\" varchar CHECK( \"state\" IN ('PENDING','RUNNING','SUCCEEDED','FAILED') ) NOT NULL, \"progress\" integer NOT NULL DEFAULT (0), \"step\" varchar(200), \"idempotencyKey\" varchar(200), \"requestHash\" varchar(64) NOT NULL, \"input\" text NOT NULL, \"errorCode\" varchar(64), \"errorMessage\" varchar(1000), \"actorUserId\" varchar(36), \"leaseOwner\" varchar(64), \"leaseExpiresAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"finishedAt\" datetime)");
    await queryRunner.query("CREATE INDEX \"IDX_d57361a42ae3b7544e6d606149\" ON \"operations\" (\"accountPath\") ");
    await queryRunner.query("CREATE INDEX \"IDX_24b5cbed9095de4e3eaf272f21\" ON \"operations\" (\"containerId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_f72d9d88310649ae6b97dab38e\" ON \"operations\" (\"state\", \"leaseExpiresAt\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"one_active_operation_per_container\" ON \"operations\" (\"containerId\") WHERE state IN ('PENDING', 'RUNNING')");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2534ef5fbbd6023c6a06a533f5\" ON \"operations\" (\"accountId\", \"idempotencyKey\") ");
    await queryRunner.query("DROP INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("DROP INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("CREATE TABLE \"temporary_nodes\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"url\" varchar(255) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" varchar CHECK( \"status\" IN ('READY','OFFLINE','MAINTENANCE') ) NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT (0), \"memoryBytes\" bigint NOT NULL DEFAULT (0), \"diskBytes\" bigint NOT NULL DEFAULT (0), \"lastError\" varchar(500), \"lastSeenAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_3cefdcd02d6d72477209882dc20\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_nodes\"(\"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\") SELECT \"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\" FROM \"nodes\"");
    await queryRunner.query("DROP TABLE \"nodes\"");
    await queryRunner.query("ALTER TABLE \"temporary_nodes\" RENAME TO \"nodes\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\" (\"url\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\" (\"clusterId\", \"name\") ");
    await queryRunner.query("DROP INDEX \"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("DROP INDEX \"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("CREATE TABLE \"temporary_containers\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"projectId\" varchar(36) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"imageId\" varchar(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" varchar CHECK( \"status\" IN ('CREATING','RUNNING','STOPPED','STARTING','STOPPING','ERROR','UNKNOWN','DELETING') ) NOT NULL, \"statusReason\" varchar(500), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_1f13c674b3279da418ca8670986\" FOREIGN KEY (\"projectId\") REFERENCES \"projects\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_a9fc07ff33ef678d2037e16de8e\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_containers\"(\"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\" FROM \"containers\"");
    await queryRunner.query("DROP TABLE \"containers\"");
    await queryRunner.query("ALTER TABLE \"temporary_containers\" RENAME TO \"containers\"");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\" (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\" (\"nodeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\" (\"projectId\", \"name\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("DROP INDEX \"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("ALTER TABLE \"containers\" RENAME TO \"temporary_containers\"");
    await queryRunner.query("CREATE TABLE \"containers\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"projectId\" varchar(36) NOT NULL, \"nodeId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"imageId\" varchar(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" varchar CHECK( \"status\" IN ('CREATING','RUNNING','STOPPED','STARTING','STOPPING','ERROR','UNKNOWN','DELETING') ) NOT NULL, \"statusReason\" varchar(500), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"containers\"(\"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\") SELECT \"id\", \"projectId\", \"nodeId\", \"name\", \"imageId\", \"cpu\", \"memoryBytes\", \"diskBytes\", \"status\", \"statusReason\", \"createdAt\", \"updatedAt\" FROM \"temporary_containers\"");
    await queryRunner.query("DROP TABLE \"temporary_containers\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\" (\"projectId\", \"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\" (\"nodeId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\" (\"projectId\") ");
    await queryRunner.query("DROP INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("DROP INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("ALTER TABLE \"nodes\" RENAME TO \"temporary_nodes\"");
    await queryRunner.query("CREATE TABLE \"nodes\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"url\" varchar(255) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" varchar CHECK( \"status\" IN ('READY','OFFLINE','MAINTENANCE') ) NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT (0), \"memoryBytes\" bigint NOT NULL DEFAULT (0), \"diskBytes\" bigint NOT NULL DEFAULT (0), \"lastError\" varchar(500), \"lastSeenAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"nodes\"(\"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\") SELECT \"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\" FROM \"temporary_nodes\"");
    await queryRunner.query("DROP TABLE \"temporary_nodes\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\" (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\" (\"url\") ");
    await queryRunner.query("DROP INDEX \"IDX_2534ef5fbbd6023c6a06a533f5\"");
    await queryRunner.query("DROP INDEX \"one_active_operation_per_container\"");
    await queryRunner.query("DROP INDEX \"IDX_f72d9d88310649ae6b97dab38e\"");
    await queryRunner.query("DROP INDEX \"IDX_24b5cbed9095de4e3eaf272f21\"");
    await queryRunner.query("DROP INDEX \"IDX_d57361a42ae3b7544e6d606149\"");
    await queryRunner.query("DROP TABLE \"operations\"");
    await queryRunner.query("DROP TABLE \"lxd_identity\"");
    await queryRunner.query("DROP TABLE \"licences\"");
    await queryRunner.query("DROP INDEX \"IDX_d5028130e3282c7b47809ab2c1\"");
    await queryRunner.query("DROP INDEX \"IDX_d46ee7424fcbbc896a457784f1\"");
    await queryRunner.query("DROP TABLE \"images\"");
    await queryRunner.query("DROP INDEX \"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("DROP INDEX \"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("DROP TABLE \"containers\"");
    await queryRunner.query("DROP INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("DROP INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("DROP TABLE \"nodes\"");
    await queryRunner.query("DROP INDEX \"IDX_9866753a0c6ffd4adebb5cc236\"");
    await queryRunner.query("DROP TABLE \"clusters\"");
  }
}
