import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IpPools1795701124895 implements MigrationInterface {
  name = 'IpPools1795701124895';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"ip_pools\" (\"id\" character varying(36) NOT NULL, \"clusterId\" character varying(36) NOT NULL, \"name\" character varying(63) NOT NULL, \"family\" integer NOT NULL, \"cidr\" character varying(64) NOT NULL, \"firstAddress\" character varying(45) NOT NULL, \"lastAddress\" character varying(45) NOT NULL, \"firstKey\" character varying(34) NOT NULL, \"lastKey\" character varying(34) NOT NULL, \"gateway\" character varying(45), \"reserved\" text NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_b02072d25407b853dafa93ca8a1\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\" ON \"ip_pools\"  (\"clusterId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e94a702fb06f5b888cb2c8738b\" ON \"ip_pools\"  (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"ip_addresses\" (\"id\" character varying(36) NOT NULL, \"poolId\" character varying(36) NOT NULL, \"containerId\" character varying(36) NOT NULL, \"address\" character varying(45) NOT NULL, \"family\" integer NOT NULL, \"sortKey\" character varying(34) NOT NULL, \"createdAt\" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT \"PK_cd79a3bbf0f74921615b60f6266\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"IDX_48b2cf54bc9671dcd1aa745410\" ON \"ip_addresses\"  (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2e49111a25896a0ac4973a13ab\" ON \"ip_addresses\"  (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_44866ce929330f73a2638ca171\" ON \"ip_addresses\"  (\"poolId\", \"sortKey\") ");
    await queryRunner.query("ALTER TABLE \"ip_pools\" ADD CONSTRAINT \"FK_40731c3c8d2df1b2c7f57f243f1\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"ip_addresses\" ADD CONSTRAINT \"FK_8427d410792e8dbbb45bbec9947\" FOREIGN KEY (\"poolId\") REFERENCES \"ip_pools\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"ip_addresses\" ADD CONSTRAINT \"FK_48b2cf54bc9671dcd1aa7454105\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"ip_addresses\" DROP CONSTRAINT \"FK_48b2cf54bc9671dcd1aa7454105\"");
    await queryRunner.query("ALTER TABLE \"ip_addresses\" DROP CONSTRAINT \"FK_8427d410792e8dbbb45bbec9947\"");
    await queryRunner.query("ALTER TABLE \"ip_pools\" DROP CONSTRAINT \"FK_40731c3c8d2df1b2c7f57f243f1\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_44866ce929330f73a2638ca171\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_2e49111a25896a0ac4973a13ab\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_48b2cf54bc9671dcd1aa745410\"");
    await queryRunner.query("DROP TABLE \"ip_addresses\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_e94a702fb06f5b888cb2c8738b\"");
    await queryRunner.query("DROP INDEX \"public\".\"IDX_40731c3c8d2df1b2c7f57f243f\"");
    await queryRunner.query("DROP TABLE \"ip_pools\"");
  }
}
