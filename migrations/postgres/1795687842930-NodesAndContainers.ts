import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodesAndContainers1795687842930 implements MigrationInterface {
  name = 'NodesAndContainers1795687842930';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TYPE \"public\".\"clusters_storagedriver_enum\" AS ENUM('btrfs', 'zfs', 'lvm', 'dir')");
    await queryRunner.query("CREATE TABLE \"clusters\" (\"id\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"storageDriver\" \"public\".\"clusters_storagedriver_enum\" NOT NULL, \"storagePool\" character varying(63) NOT NULL, \"backupDirectory\" character varying(255) NOT NULL, \"cpuOvercommit\" real NOT NULL, \"memoryOvercommit\" real NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_56c8e201f375e1e961dcdd6831c\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_9866753a0c6ffd4adebb5cc236\" ON \"clusters\"  (\"name\") ");
    await queryRunner.query("CREATE TYPE \"public\".\"nodes_status_enum\" AS ENUM('READY', 'OFFLINE', 'MAINTENANCE')");
    await queryRunner.query("CREATE TABLE \"nodes\" (\"id\" character varying(36) NOT NULL, \"clusterId\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"url\" character varying(255) NOT NULL, \"fingerprint\" character varying(64) NOT NULL, \"serverCertificate\" text NOT NULL, \"status\" \"public\".\"nodes_status_enum\" NOT NULL, \"cpuThreads\" integer NOT NULL DEFAULT '0', \"memoryBytes\" bigint NOT NULL DEFAULT '0', \"diskBytes\" bigint NOT NULL DEFAULT '0', \"lastError\" character varying(500), \"lastSeenAt\" TIMESTAMP, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_682d6427523a0fa43d062ea03ee\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_8ac955d87e2b4cef727c7d2d50\" ON \"nodes\"  (\"url\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_52659a7f79c1cff3c4da5eda0b\" ON \"nodes\"  (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE TYPE \"public\".\"containers_status_enum\" AS ENUM('CREATING', 'RUNNING', 'STOPPED', 'STARTING', 'STOPPING', 'ERROR', 'UNKNOWN', 'DELETING')");
    await queryRunner.query("CREATE TABLE \"containers\" (\"id\" character varying(36) NOT NULL, \"projectId\" character varying(36) NOT NULL, \"nodeId\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"imageId\" character varying(36) NOT NULL, \"cpu\" integer NOT NULL, \"memoryBytes\" bigint NOT NULL, \"diskBytes\" bigint NOT NULL, \"status\" \"public\".\"containers_status_enum\" NOT NULL, \"statusReason\" character varying(500), \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), \"updatedAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_21cbac3e68f7b1cf53d39cda70c\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_1f13c674b3279da418ca867098\" ON \"containers\"  (\"projectId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a9fc07ff33ef678d2037e16de8\" ON \"containers\"  (\"nodeId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_ec0002a92ebbae251ebb4d492a\" ON \"containers\"  (\"projectId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"images\" (\"id\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"fingerprint\" character varying(64) NOT NULL, \"sizeBytes\" bigint NOT NULL, \"path\" character varying(500) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_1fe148074c6a1a91b63cb9ee3c9\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_d46ee7424fcbbc896a457784f1\" ON \"images\"  (\"name\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_d5028130e3282c7b47809ab2c1\" ON \"images\"  (\"fingerprint\") ");
    await queryRunner.query("CREATE TABLE \"licences\" (\"id\" character varying(36) NOT NULL, \"licensee\" character varying(200) NOT NULL, \"maxNodes\" integer NOT NULL, \"maxContainers\" integer NOT NULL, \"expiresAt\" TIMESTAMP NOT NULL, \"document\" text NOT NULL, \"installedAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_78f76903a7e2d2b2ac378fca8d3\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"lxd_identity\" (\"id\" character varying(32) NOT NULL, \"certificate\" text NOT NULL, \"key\" text NOT NULL, CONSTRAINT \"PK_36ff2628265b0c0d5326bfc8e3b\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TYPE \"public\".\"operations_state_enum\" AS ENUM('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')");
    await queryRunner.query("CREATE TABLE \"operations\" (\"id\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"accountPath\" character varying(120) NOT NULL, \"containerId\" character varying(36), \"nodeId\" character varying(36), \"action\" character varying(64) NOT NULL, \"state\" \"public\".\"operations_state_enum\" NOT NULL, \"progress\" integer NOT NULL DEFAULT '0', \"step\" character varying(200), \"idempotencyKey\" character varying(200), \"requestHash\" character varying(64) NOT NULL, \"input\" text NOT NULL, \"errorCode\" character varying(64), \"errorMessage\" character varying(1000), \"actorUserId\" character varying(36), \"leaseOwner\" character varying(64), \"leaseExpiresAt\" TIMESTAMP, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), \"updatedAt\" TIMESTAMP NOT NULL DEFAULT now(), \"finishedAt\" TIMESTAMP, CONSTRAINT \"PK_7b62d84d6f9912b975987165856\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_d57361a42ae3b7544e6d606149\" ON \"operations\"  (\"accountPath\") ");
    await queryRunner.query("CREATE INDEX \"IDX_24b5cbed9095de4e3eaf272f21\" ON \"operations\"  (\"containerId\") ");
    await queryRunner.query("CREATE INDEX \"IDX_f72d9d88310649ae6b97dab38e\" ON \"operations\"  (\"state\", \"leaseExpiresAt\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"one_active_operation_per_container\" ON \"operations\"  (\"containerId\") WHERE state IN ('PENDING', 'RUNNING')");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2534ef5fbbd6023c6a06a533f5\" ON \"operations\"  (\"accountId\", \"idempotencyKey\") ");
    await queryRunner.query("ALTER TABLE \"nodes\" ADD CONSTRAINT \"FK_3cefdcd02d6d72477209882dc20\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"containers\" ADD CONSTRAINT \"FK_1f13c674b3279da418ca8670986\" FOREIGN KEY (\"projectId\") REFERENCES \"projects\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"containers\" ADD CONSTRAINT \"FK_a9fc07ff33ef678d2037e16de8e\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"containers\" DROP CONSTRAINT \"FK_a9fc07ff33ef678d2037e16de8e\"");
    await queryRunner.query("ALTER TABLE \"containers\" DROP CONSTRAINT \"FK_1f13c674b3279da418ca8670986\"");
    await queryRunner.query("ALTER TABLE \"nodes\" DROP CONSTRAINT \"FK_3cefdcd02d6d72477209882dc20\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_2534ef5fbbd6023c6a06a533f5\"");
    await queryRunner.query("DROP INDEX \"public\".\"one_active_operation_per_container\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_f72d9d88310649ae6b97dab38e\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_24b5cbed9095de4e3eaf272f21\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_d57361a42ae3b7544e6d606149\"");
    await queryRunner.query("DROP TABLE \"operations\"");
    await queryRunner.query("DROP TYPE \"public\".\"operations_state_enum\"");
    await queryRunner.query("DROP TABLE \"lxd_identity\"");
    await queryRunner.query("DROP TABLE \"licences\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_d5028130e3282c7b47809ab2c1\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_d46ee7424fcbbc896a457784f1\"");
    await queryRunner.query("DROP TABLE \"images\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_ec0002a92ebbae251ebb4d492a\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_a9fc07ff33ef678d2037e16de8\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_1f13c674b3279da418ca867098\"");
    await queryRunner.query("DROP TABLE \"containers\"");
    await queryRunner.query("DROP TYPE \"public\".\"containers_status_enum\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_52659a7f79c1cff3c4da5eda0b\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_8ac955d87e2b4cef727c7d2d50\"");
    await queryRunner.query("DROP TABLE \"nodes\"");
    await queryRunner.query("DROP TYPE \"public\".\"nodes_status_enum\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_9866753a0c6ffd4adebb5cc236\"");
    await queryRunner.query("DROP TABLE \"clusters\"");
    await queryRunner.query("DROP TYPE \"public\".\"clusters_storagedriver_enum\"");
  }
}
