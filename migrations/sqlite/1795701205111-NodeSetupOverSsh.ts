import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodeSetupOverSsh1795701205111 implements MigrationInterface {
  name = 'NodeSetupOverSsh1795701205111';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"node_setups\" (\"nodeId\" varchar(36) PRIMARY KEY NOT NULL, \"host\" varchar(255) NOT NULL, \"port\" integer NOT NULL, \"user\" varchar(64) NOT NULL, \"hostKeyFingerprint\" varchar(100), \"os\" varchar(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT (0), \"step\" varchar(200), \"output\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE TABLE \"ssh_identity\" (\"id\" varchar(32) PRIMARY KEY NOT NULL, \"privateKey\" text NOT NULL, \"publicKey\" text NOT NULL)");
    await queryRunner.query("DROP INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("DROP INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("CREATE TABLE \"temporary_nodes\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"url\" varchar(255) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" varchar CHECK( \"status\" IN ('READY','OFFLINE','DRAINING','MAINTENANCE','SETTING_UP','SSH_READY','FAILED') ) NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT (0), \"memoryBytes\" bigint NOT NULL DEFAULT (0), \"diskBytes\" bigint NOT NULL DEFAULT (0), \"lastError\" varchar(500), \"lastSeenAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"capabilities\" text, CONSTRAINT \"FK_3cefdcd02d6d72477209882dc20\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_nodes\"(\"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\", \"capabilities\") SELECT \"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\", \"capabilities\" FROM \"nodes\"");
    await queryRunner.query("DROP TABLE \"nodes\"");
    await queryRunner.query("ALTER TABLE \"temporary_nodes\" RENAME TO \"nodes\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\" (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\" (\"url\") ");
    await queryRunner.query("CREATE TABLE \"temporary_node_setups\" (\"nodeId\" varchar(36) PRIMARY KEY NOT NULL, \"host\" varchar(255) NOT NULL, \"port\" integer NOT NULL, \"user\" varchar(64) NOT NULL, \"hostKeyFingerprint\" varchar(100), \"os\" varchar(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT (0), \"step\" varchar(200), \"output\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_d7edcca2c631c1a3e8e311a33f0\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_node_setups\"(\"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\") SELECT \"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\" FROM \"node_setups\"");
    await queryRunner.query("DROP TABLE \"node_setups\"");
    await queryRunner.query("ALTER TABLE \"temporary_node_setups\" RENAME TO \"node_setups\"");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"node_setups\" RENAME TO \"temporary_node_setups\"");
    await queryRunner.query("CREATE TABLE \"node_setups\" (\"nodeId\" varchar(36) PRIMARY KEY NOT NULL, \"host\" varchar(255) NOT NULL, \"port\" integer NOT NULL, \"user\" varchar(64) NOT NULL, \"hostKeyFingerprint\" varchar(100), \"os\" varchar(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT (0), \"step\" varchar(200), \"output\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"node_setups\"(\"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\") SELECT \"nodeId\", \"host\", \"port\", \"user\", \"hostKeyFingerprint\", \"os\", \"corralKeyInstalled\", \"step\", \"output\", \"updatedAt\" FROM \"temporary_node_setups\"");
    await queryRunner.query("DROP TABLE \"temporary_node_setups\"");
    await queryRunner.query("DROP INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("DROP INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("ALTER TABLE \"nodes\" RENAME TO \"temporary_nodes\"");
    await queryRunner.query("CREATE TABLE \"nodes\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"url\" varchar(255) NOT NULL, \"fingerprint\" varchar(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" varchar CHECK( \"status\" IN ('READY','OFFLINE','DRAINING','MAINTENANCE') ) NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT (0), \"memoryBytes\" bigint NOT NULL DEFAULT (0), \"diskBytes\" bigint NOT NULL DEFAULT (0), \"lastError\" varchar(500), \"lastSeenAt\" datetime, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"capabilities\" text, CONSTRAINT \"FK_3cefdcd02d6d72477209882dc20\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"nodes\"(\"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\", \"capabilities\") SELECT \"id\", \"clusterId\", \"name\", \"url\", \"fingerprint\", \"serverCertificate\", \"status\", \"cpuThreads\", \"memoryBytes\", \"diskBytes\", \"lastError\", \"lastSeenAt\", \"createdAt\", \"capabilities\" FROM \"temporary_nodes\"");
    await queryRunner.query("DROP TABLE \"temporary_nodes\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\" (\"url\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\" (\"clusterId\", \"name\") ");
    await queryRunner.query("DROP TABLE \"ssh_identity\"");
    await queryRunner.query("DROP TABLE \"node_setups\"");
  }
}
