import type { MigrationInterface, QueryRunner } from 'typeorm';

export class DayTwoCapabilities1795690843922 implements MigrationInterface {
  name = 'DayTwoCapabilities1795690843922';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"nodes\" ADD \"capabilities\" text");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"nodes\" DROP COLUMN \"capabilities\"");
  }
}
