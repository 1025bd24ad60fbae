import type { MigrationInterface, QueryRunner } from 'typeorm';

export class DayTwoResources1795690197112 implements MigrationInterface {
  name = 'DayTwoResources1795690197112';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"containers\" ADD \"cpuLimitPercent\" integer");
    await queryRunner.query("ALTER TABLE \"containers\" ADD \"cpuWeight\" integer");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"containers\" DROP COLUMN \"cpuWeight\"");
    await queryRunner.query("ALTER TABLE \"containers\" DROP COLUMN \"cpuLimitPercent\"");
  }
}
