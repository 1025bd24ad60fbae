import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NetworkInterfaces1795697101310 implements MigrationInterface {
  name = 'NetworkInterfaces1795697101310';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_nics\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"name\" varchar(15) NOT NULL, \"kind\" varchar CHECK( \"kind\" IN ('BRIDGED') ) NOT NULL, \"network\" varchar(15), \"hwaddr\" varchar(17), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_a5918bae52b083f4d56d12d377\" ON \"container_nics\" (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_b61323f0ea67948a165108a0b9\" ON \"container_nics\" (\"containerId\", \"name\") ");
    await queryRunner.query("DROP INDEX \"IDX_a5918bae52b083f4d56d12d377\"");
    await queryRunner.query("DROP INDEX \"IDX_b61323f0ea67948a165108a0b9\"");
    await queryRunner.query("CREATE TABLE \"temporary_container_nics\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"name\" varchar(15) NOT NULL, \"kind\" varchar CHECK( \"kind\" IN ('BRIDGED') ) NOT NULL, \"network\" varchar(15), \"hwaddr\" varchar(17), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_a5918bae52b083f4d56d12d377d\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_container_nics\"(\"id\", \"containerId\", \"name\", \"kind\", \"network\", \"hwaddr\", \"createdAt\") SELECT \"id\", \"containerId\", \"name\", \"kind\", \"network\", \"hwaddr\", \"createdAt\" FROM \"container_nics\"");
    await queryRunner.query("DROP TABLE \"container_nics\"");
    await queryRunner.query("ALTER TABLE \"temporary_container_nics\" RENAME TO \"container_nics\"");
    await queryRunner.query("CREATE INDEX \"IDX_a5918bae52b083f4d56d12d377\" ON \"container_nics\" (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_b61323f0ea67948a165108a0b9\" ON \"container_nics\" (\"containerId\", \"name\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_b61323f0ea67948a165108a0b9\"");
    await queryRunner.query("DROP INDEX \"IDX_a5918bae52b083f4d56d12d377\"");
    await queryRunner.query("ALTER TABLE \"container_nics\" RENAME TO \"temporary_container_nics\"");
    await queryRunner.query("CREATE TABLE \"container_nics\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"containerId\" varchar(36) NOT NULL, \"name\" varchar(15) NOT NULL, \"kind\" varchar CHECK( \"kind\" IN ('BRIDGED') ) NOT NULL, \"network\" varchar(15), \"hwaddr\" varchar(17), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"container_nics\"(\"id\", \"containerId\", \"name\", \"kind\", \"network\", \"hwaddr\", \"createdAt\") SELECT \"id\", \"containerId\", \"name\", \"kind\", \"network\", \"hwaddr\", \"createdAt\" FROM \"temporary_container_nics\"");
    await queryRunner.query("DROP TABLE \"temporary_container_nics\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_b61323f0ea67948a165108a0b9\" ON \"container_nics\" (\"containerId\", \"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_a5918bae52b083f4d56d12d377\" ON \"container_nics\" (\"containerId\") ");
    await queryRunner.query("DROP INDEX \"IDX_b61323f0ea67948a165108a0b9\"");
    await queryRunner.query("DROP INDEX \"IDX_a5918bae52b083f4d56d12d377\"");
    await queryRunner.query("DROP TABLE \"container_nics\"");
  }
}
