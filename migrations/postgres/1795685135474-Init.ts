import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795685135474 implements MigrationInterface {
  name = 'Init1795685135474';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TYPE \"public\".\"accounts_kind_enum\" AS ENUM('PROVIDER', 'RESELLER', 'CUSTOMER')");
    await queryRunner.query("CREATE TABLE \"accounts\" (\"id\" character varying(36) NOT NULL, \"kind\" \"public\".\"accounts_kind_enum\" NOT NULL, \"name\" character varying(100) NOT NULL, \"parentId\" character varying(36), \"path\" character varying(120) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_5a7a02c20412299d198e097a8fe\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_44a59efdf9b5c5bd0e9da693cd\" ON \"accounts\"  (\"path\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"one_provider\" ON \"accounts\"  (\"kind\") WHERE kind = 'PROVIDER'");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_f7ab88699957b2093eaaa74d7d\" ON \"accounts\"  (\"parentId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"projects\" (\"id\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"description\" character varying(500) NOT NULL DEFAULT '', \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_6271df0a7aed1d6c0691ce6ac50\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_5a83ebfff12edde7e9facc5b3b\" ON \"projects\"  (\"accountId\", \"name\") ");
    await queryRunner.query("CREATE TYPE \"public\".\"users_role_enum\" AS ENUM('PROVIDER_ADMIN', 'RESELLER_ADMIN', 'CUSTOMER_OWNER', 'CUSTOMER_MEMBER')");
    await queryRunner.query("CREATE TABLE \"users\" (\"id\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"email\" character varying(254) NOT NULL, \"name\" character varying(100) NOT NULL DEFAULT '', \"role\" \"public\".\"users_role_enum\" NOT NULL, \"passwordHash\" character varying(255) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_a3ffb1c0c8416b9fc6f907b7433\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_42bba679e348de51a699fb0a80\" ON \"users\"  (\"accountId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_97672ac88f789774dd47f7c8be\" ON \"users\"  (\"email\") ");
    await queryRunner.query("CREATE TYPE \"public\".\"audit_events_outcome_enum\" AS ENUM('SUCCESS', 'FAILURE')");
    await queryRunner.query("CREATE TABLE \"audit_events\" (\"id\" character varying(36) NOT NULL, \"actorUserId\" character varying(36), \"actorEmail\" character varying(254), \"actorTokenId\" character varying(36), \"accountId\" character varying(36), \"accountPath\" character varying(120), \"action\" character varying(64) NOT NULL, \"targetType\" character varying(32), \"targetId\" character varying(64), \"outcome\" \"public\".\"audit_events_outcome_enum\" NOT NULL, \"errorCode\" character varying(64), \"sourceAddress\" character varying(64), \"requestId\" character varying(36) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_910f64d901a5c3e9878f0d4a407\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_e0d94571f75c6745433ee38e0f\" ON \"audit_events\"  (\"accountPath\", \"id\") ");
    await queryRunner.query("CREATE TABLE \"api_tokens\" (\"id\" character varying(36) NOT NULL, \"name\" character varying(100) NOT NULL, \"userId\" character varying(36) NOT NULL, \"accountId\" character varying(36) NOT NULL, \"permissions\" text NOT NULL, \"prefix\" character varying(16) NOT NULL, \"tokenHash\" character varying(64) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), \"expiresAt\" TIMESTAMP, \"lastUsedAt\" TIMESTAMP, \"revokedAt\" TIMESTAMP, CONSTRAINT \"PK_c587455266b5fa8dace7194caac\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_2a2ce819bd75cc0193bfb2692b\" ON \"api_tokens\"  (\"userId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_cdac8e064e6e9c2e0835d1c1b8\" ON \"api_tokens\"  (\"tokenHash\") ");
    await queryRunner.query("CREATE TABLE \"sessions\" (\"id\" character varying(64) NOT NULL, \"userId\" character varying(36) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL, \"lastSeenAt\" TIMESTAMP NOT NULL, \"expiresAt\" TIMESTAMP NOT NULL, \"sourceAddress\" character varying(64), CONSTRAINT \"PK_3238ef96f18b355b671619111bc\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_57de40bc620f456c7311aa3a1e\" ON \"sessions\"  (\"userId\") ");
    await queryRunner.query("ALTER TABLE \"accounts\" ADD CONSTRAINT \"FK_e1496dabea319842640e45fb3ed\" FOREIGN KEY (\"parentId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"projects\" ADD CONSTRAINT \"FK_3f20b08797133f636a6af39fc55\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"users\" ADD CONSTRAINT \"FK_42bba679e348de51a699fb0a803\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"api_tokens\" ADD CONSTRAINT \"FK_2a2ce819bd75cc0193bfb2692bd\" FOREIGN KEY (\"userId\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"api_tokens\" ADD CONSTRAINT \"FK_e7f26ff3c21cc4b9b48d238b343\" FOREIGN KEY (\"accountId\") REFERENCES \"accounts\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"sessions\" ADD CONSTRAINT \"FK_57de40bc620f456c7311aa3a1e6\" FOREIGN KEY (\"userId\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"sessions\" DROP CONSTRAINT \"FK_57de40bc620f456c7311aa3a1e6\"");
    await queryRunner.query("ALTER TABLE \"api_tokens\" DROP CONSTRAINT \"FK_e7f26ff3c21cc4b9b48d238b343\"");
    await queryRunner.query("ALTER TABLE \"api_tokens\" DROP CONSTRAINT \"FK_2a2ce819bd75cc0193bfb2692bd\"");
    await queryRunner.query("ALTER TABLE \"users\" DROP CONSTRAINT \"FK_42bba679e348de51a699fb0a803\"");
    await queryRunner.query("ALTER TABLE \"projects\" DROP CONSTRAINT \"FK_3f20b08797133f636a6af39fc55\"");
    await queryRunner.query("ALTER TABLE \"accounts\" DROP CONSTRAINT \"FK_e1496dabea319842640e45fb3ed\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_57de40bc620f456c7311aa3a1e\"");
    await queryRunner.query("DROP TABLE \"sessions\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_cdac8e064e6e9c2e0835d1c1b8\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_2a2ce819bd75cc0193bfb2692b\"");
    await queryRunner.query("DROP TABLE \"api_tokens\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_e0d94571f75c6745433ee38e0f\"");
    await queryRunner.query("DROP TABLE \"audit_events\"");
    await queryRunner.query("DROP TYPE \"public\".\"audit_events_outcome_enum\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_97672ac88f789774dd47f7c8be\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_42bba679e348de51a699fb0a80\"");
    await queryRunner.query("DROP TABLE \"users\"");
    await queryRunner.query("DROP TYPE \"public\".\"users_role_enum\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_5a83ebfff12edde7e9facc5b3b\"");
    await queryRunner.query("DROP TABLE \"projects\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_f7ab88699957b2093eaaa74d7d\"");
    await queryRunner.query("DROP INDEX \"public\".\"one_provider\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_44a59efdf9b5c5bd0e9da693cd\"");
    await queryRunner.query("DROP TABLE \"accounts\"");
    await queryRunner.query("DROP TYPE \"public\".\"accounts_kind_enum\"");
  }
}
