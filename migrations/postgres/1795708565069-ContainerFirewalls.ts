import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ContainerFirewalls1795708565069 implements MigrationInterface {
  name = 'ContainerFirewalls1795708565069';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_firewalls\" (\"containerId\" character varying(36) NOT NULL, \"tcpConnectionLimit\" integer, \"inboundPorts\" text, \"updatedAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_f530f0f309be19867c036655472\" PRIMARY KEY (\"containerId\"))");
    await queryRunner.query("ALTER TABLE \"container_firewalls\" ADD CONSTRAINT \"FK_f530f0f309be19867c036655472\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_firewalls\" DROP CONSTRAINT \"FK_f530f0f309be19867c036655472\"");
    await queryRunner.query("DROP TABLE \"container_firewalls\"");
  }
}
