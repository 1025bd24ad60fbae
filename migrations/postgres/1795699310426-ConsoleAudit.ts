import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ConsoleAudit1795699310426 implements MigrationInterface {
  name = 'ConsoleAudit1795699310426';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"audit_events\" ADD \"details\" text");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"audit_events\" DROP COLUMN \"details\"");
  }
}
