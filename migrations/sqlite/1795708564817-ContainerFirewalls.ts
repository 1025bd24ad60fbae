import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ContainerFirewalls1795708564817 implements MigrationInterface {
  name = 'ContainerFirewalls1795708564817';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_firewalls\" (\"containerId\" varchar(36) PRIMARY KEY NOT NULL, \"tcpConnectionLimit\" integer, \"inboundPorts\" text, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_f530f0f309be19867c036655472\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP TABLE \"container_firewalls\"");
  }
}
