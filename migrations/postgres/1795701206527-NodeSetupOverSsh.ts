import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodeSetupOverSsh1795701206527 implements MigrationInterface {
  name = 'NodeSetupOverSsh1795701206527';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"node_setups\" (\"nodeId\" character varying(36) NOT NULL, \"host\" character varying(255) NOT NULL, \"port\" integer NOT NULL, \"user\" character varying(64) NOT NULL, \"hostKeyFingerprint\" character varying(100), \"os\" character varying(200), \"corralKeyInstalled\" boolean NOT NULL DEFAULT false, \"step\" character varying(200), \"output\" text, \"updatedAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_d7edcca2c631c1a3e8e311a33f0\" PRIMARY KEY (\"nodeId\"))");
    await queryRunner.query("CREATE TABLE \"ssh_identity\" (\"id\" character varying(32) NOT NULL, \"privateKey\" text NOT NULL, \"publicKey\" text NOT NULL, CONSTRAINT \"PK_3576592a840ea22000dea282d64\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum\" ADD VALUE 'SETTING_UP'");
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum\" ADD VALUE 'SSH_READY'");
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum\" ADD VALUE 'FAILED'");
    await queryRunner.query("ALTER TABLE \"node_setups\" ADD CONSTRAINT \"FK_d7edcca2c631c1a3e8e311a33f0\" FOREIGN KEY (\"nodeId\") REFERENCES \"nodes\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"node_setups\" DROP CONSTRAINT \"FK_d7edcca2c631c1a3e8e311a33f0\"");
    await queryRunner.query("CREATE TYPE \"public\".\"nodes_status_enum_old\" AS ENUM('READY', 'OFFLINE', 'MAINTENANCE', 'DRAINING')");
    await queryRunner.query("ALTER TABLE \"nodes\" ALTER COLUMN \"status\" TYPE \"public\".\"nodes_status_enum_old\" USING \"status\"::\"text\"::\"public\".\"nodes_status_enum_old\"");
    await queryRunner.query("DROP TYPE \"public\".\"nodes_status_enum\"");
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum_old\" RENAME TO \"nodes_status_enum\"");
    await queryRunner.query("DROP TABLE \"ssh_identity\"");
    await queryRunner.query("DROP TABLE \"node_setups\"");
  }
}
