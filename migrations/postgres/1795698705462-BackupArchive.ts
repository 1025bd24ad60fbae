import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BackupArchive1795698705462 implements MigrationInterface {
  name = 'BackupArchive1795698705462';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TYPE \"public\".\"container_backups_location_enum\" AS ENUM('NODE', 'ARCHIVE')");
    await queryRunner.query("ALTER TABLE \"container_backups\" ADD \"location\" \"public\".\"container_backups_location_enum\" NOT NULL DEFAULT 'NODE'");
    await queryRunner.query("ALTER TABLE \"container_backups\" ADD \"sha256\" character varying(64)");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_backups\" DROP COLUMN \"sha256\"");
    await queryRunner.query("ALTER TABLE \"container_backups\" DROP COLUMN \"location\"");
    await queryRunner.query("DROP TYPE \"public\".\"container_backups_location_enum\"");
  }
}
