import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NodeDrain1795697916827 implements MigrationInterface {
  name = 'NodeDrain1795697916827';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum\" ADD VALUE 'DRAINING'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TYPE \"public\".\"nodes_status_enum_old\" AS ENUM('READY', 'OFFLINE', 'MAINTENANCE')");
    await queryRunner.query("ALTER TABLE \"nodes\" ALTER COLUMN \"status\" TYPE \"public\".\"nodes_status_enum_old\" USING \"status\"::\"text\"::\"public\".\"nodes_status_enum_old\"");
    await queryRunner.query("DROP TYPE \"public\".\"nodes_status_enum\"");
    await queryRunner.query("ALTER TYPE \"public\".\"nodes_status_enum_old\" RENAME TO \"nodes_status_enum\"");
  }
}
