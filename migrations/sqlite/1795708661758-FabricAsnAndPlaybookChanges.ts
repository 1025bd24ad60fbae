import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FabricAsnAndPlaybookChanges1795708661758 implements MigrationInterface {
  name = 'FabricAsnAndPlaybookChanges1795708661758';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_9866753a0c6ffd4adebb5cc236\"");
    await queryRunner.query("CREATE TABLE \"temporary_clusters\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"name\" varchar(63) NOT NULL, \"storageDriver\" varchar CHECK( \"storageDriver\" IN ('btrfs','zfs','lvm','dir') ) NOT NULL, \"storagePool\" varchar(63) NOT NULL, \"backupDirectory\" varchar(255) NOT NULL, \"cpuOvercommit\" real NOT NULL, \"memoryOvercommit\" real NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"fabricAsn\" bigint NOT NULL DEFAULT (65000))");
    await queryRunner.query("INSERT INTO \"temporary_clusters\"(\"id\", \"name\", \"storageDriver\", \"storagePool\", \"backupDirectory\", \"cpuOvercommit\", \"memoryOvercommit\", \"createdAt\") SELECT \"id\", \"name\", \"storageDriver\", \"storagePool\", \"backupDirectory\", \"cpuOvercommit\", \"memoryOvercommit\", \"createdAt\" FROM \"clusters\"");
    await queryRunner.query("DROP TABLE \"clusters\"");
    await queryRunner.query("ALTER TABLE \"temporary_clusters\" RENAME TO \"clusters\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_9866753a0c6ffd4adebb5cc236\" ON \"clusters\" (\"name\") ");
    await queryRunner.query("CREATE TABLE \"temporary_node_setups\" (\"nodeId\" varchar(36) PRIMARY KEY NOT NULL, \"host\" varchar(255) NOT NULL, \"port\" integer NOT NULL, \"user\" varchar(64) NOT NULL, \"hostKeyFingerprint\" varchar(100), \"os\" varchar(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT (0), \"step\" varchar(200), \"output\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), \"changedTasks\" integer, CONSTRAINT \"FK_d7edcca2c631c1a3e8e311a33f0\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_node_setups\"(\"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\") SELECT \"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\" FROM \"node_setups\"");
    await queryRunner.query("DROP TABLE \"node_setups\"");
    await queryRunner.query("ALTER TABLE \"temporary_node_setups\" RENAME TO \"node_setups\"");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"node_setups\" RENAME TO \"temporary_node_setups\"");
    await queryRunner.query("CREATE TABLE \"node_setups\" (\"nodeId\" varchar(36) PRIMARY KEY NOT NULL, \"host\" varchar(255) NOT NULL, \"port\" integer NOT NULL, \"user\" varchar(64) NOT NULL, \"hostKeyFingerprint\" varchar(100), \"os\" varchar(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT (0), \"step\" varchar(200), \"output\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_d7edcca2c631c1a3e8e311a33f0\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"node_setups\"(\"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\") SELECT \"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\" FROM \"temporary_node_setups\"");
    await queryRunner.query("DROP TABLE \"temporary_node_setups\"");
    await queryRunner.query("DROP INDEX \"IDX_9866753a0c6ffd4adebb5cc236\"");
    await queryRunner.query("ALTER TABLE \"clusters\" RENAME TO \"temporary_clusters\"");
    await queryRunner.query("CREATE TABLE \"clusters\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"name\" varchar(63) NOT NULL, \"storageDriver\" varchar CHECK( \"storageDriver\" IN ('btrfs','zfs','lvm','dir') ) NOT NULL, \"storagePool\" varchar(63) NOT NULL, \"backupDirectory\" varchar(255) NOT NULL, \"cpuOvercommit\" real NOT NULL, \"memoryOvercommit\" real NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"clusters\"(\"id\", \"name\", \"storageDriver\", \"storagePool\", \"backupDirectory\", \"cpuOvercommit\", \"memoryOvercommit\", \"createdAt\") SELECT \"id\", \"name\", \"storageDriver\", \"storagePool\", \"backupDirectory\", \"cpuOvercommit\", \"memoryOvercommit\", \"createdAt\" FROM \"temporary_clusters\"");
    await queryRunner.query("DROP TABLE \"temporary_clusters\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_9866753a0c6ffd4adebb5cc236\" ON \"clusters\" (\"name\") ");
  }
}
