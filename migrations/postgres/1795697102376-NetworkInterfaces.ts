import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NetworkInterfaces1795697102376 implements MigrationInterface {
  name = 'NetworkInterfaces1795697102376';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TYPE \"public\".\"container_nics_kind_enum\" AS ENUM('BRIDGED')");
    await queryRunner.query("CREATE TABLE \"container_nics\" (\"id\" character varying(36) NOT NULL, \"containerId\" character varying(36) NOT NULL, \"name\" character varying(15) NOT NULL, \"kind\" \"public\".\"container_nics_kind_enum\" NOT NULL, \"network\" character varying(15), \"hwaddr\" character varying(17), \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_f7ee98795ba5d2db11507813986\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_a5918bae52b083f4d56d12d377\" ON \"container_nics\"  (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_b61323f0ea67948a165108a0b9\" ON \"container_nics\"  (\"containerId\", \"name\") ");
    await queryRunner.query("ALTER TABLE \"container_nics\" ADD CONSTRAINT \"FK_a5918bae52b083f4d56d12d377d\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_nics\" DROP CONSTRAINT \"FK_a5918bae52b083f4d56d12d377d\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_b61323f0ea67948a165108a0b9\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_a5918bae52b083f4d56d12d377\"");
    await queryRunner.query("DROP TABLE \"container_nics\"");
    await queryRunner.query("DROP TYPE \"public\".\"container_nics_kind_enum\"");
  }
}
