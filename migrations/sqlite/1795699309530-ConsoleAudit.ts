import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ConsoleAudit1795699309530 implements MigrationInterface {
  name = 'ConsoleAudit1795699309530';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_e0d94571f75c6745433ee38e0f\"");
    await queryRunner.query("CREATE TABLE \"temporary_audit_events\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"actorUserId\" varchar(36), \"actorEmail\" varchar(254), \"actorTokenId\" varchar(36), \"accountId\" varchar(36), \"accountPath\" varchar(120), \"action\" varchar(64) NOT NULL, \"targetType\" varchar(32), \"targetId\" varchar(64), \"outcome\" varchar CHECK( \"outcome\" IN ('SUCCESS','FAILURE') ) NOT NULL, \"errorCode\" varchar(64), \"sourceAddress\" varchar(64), \"requestId\" varchar(36) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"details\" text)");
    await queryRunner.query("INSERT INTO \"temporary_audit_events\"(\"id\", \"actorUserId\", \"actorEmail\", \"actorTokenId\", \"accountId\", \"accountPath\", \"action\", \"targetType\", \"targetId\", \"outcome\", \"errorCode\", \"sourceAddress\", \"requestId\", \"createdAt\") SELECT \"id\", \"actorUserId\", \"actorEmail\", \"actorTokenId\", \"accountId\", \"accountPath\", \"action\", \"targetType\", \"targetId\", \"outcome\", \"errorCode\", \"sourceAddress\", \"requestId\", \"createdAt\" FROM \"audit_events\"");
    await queryRunner.query("DROP TABLE \"audit_events\"");
    await queryRunner.query("ALTER TABLE \"temporary_audit_events\" RENAME TO \"audit_events\"");
    await queryRunner.query("CREATE INDEX \"IDX_e0d94571f75c6745433ee38e0f\" ON \"audit_events\" (\"accountPath\", \"id\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_e0d94571f75c6745433ee38e0f\"");
    await queryRunner.query("ALTER TABLE \"audit_events\" RENAME TO \"temporary_audit_events\"");
    await queryRunner.query("CREATE TABLE \"audit_events\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"actorUserId\" varchar(36), \"actorEmail\" varchar(254), \"actorTokenId\" varchar(36), \"accountId\" varchar(36), \"accountPath\" varchar(120), \"action\" varchar(64) NOT NULL, \"targetType\" varchar(32), \"targetId\" varchar(64), \"outcome\" varchar CHECK( \"outcome\" IN ('SUCCESS','FAILURE') ) NOT NULL, \"errorCode\" varchar(64), \"sourceAddress\" varchar(64), \"requestId\" varchar(36) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"audit_events\"(\"id\", \"actorUserId\", \"actorEmail\", \"actorTokenId\", \"accountId\", \"accountPath\", \"action\", \"targetType\", \"targetId\", \"outcome\", \"errorCode\", \"sourceAddress\", \"requestId\", \"createdAt\") SELECT \"id\", \"actorUserId\", \"actorEmail\", \"actorTokenId\", \"accountId\", \"accountPath\", \"action\", \"targetType\", \"targetId\", \"outcome\", \"errorCode\", \"sourceAddress\", \"requestId\", \"createdAt\" FROM \"temporary_audit_events\"");
    await queryRunner.query("DROP TABLE \"temporary_audit_events\"");
    await queryRunner.query("CREATE INDEX \"IDX_e0d94571f75c6745433ee38e0f\" ON \"audit_events\" (\"accountPath\", \"id\") ");
  }
}
