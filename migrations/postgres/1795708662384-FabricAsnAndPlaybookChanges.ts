import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FabricAsnAndPlaybookChanges1795708662384 implements MigrationInterface {
  name = 'FabricAsnAndPlaybookChanges1795708662384';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"clusters\" ADD \"fabricAsn\" bigint NOT NULL DEFAULT '65000'");
    await queryRunner.query("ALTER TABLE \"node_setups\" ADD \"changedTasks\" integer");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"node_setups\" DROP COLUMN \"changedTasks\"");
    await queryRunner.query("ALTER TABLE \"clusters\" DROP COLUMN \"fabricAsn\"");
  }
}
