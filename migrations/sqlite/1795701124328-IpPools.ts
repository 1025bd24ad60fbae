import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IpPools1795701124328 implements MigrationInterface {
  name = 'IpPools1795701124328';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"ip_pools\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"family\" integer NOT NULL, \"cidr\" varchar(64) NOT NULL, \"firstAddress\" varchar(45) NOT NULL, \"lastAddress\" varchar(45) NOT NULL, \"firstKey\" varchar(34) NOT NULL, \"lastKey\" varchar(34) NOT NULL, \"gateway\" varchar(45), \"reserved\" text NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\" ON \"ip_pools\" (\"clusterId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e94a702fb06f5b888cb2c8738b\" ON \"ip_pools\" (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE TABLE \"ip_addresses\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"poolId\" varchar(36) NOT NULL, \"containerId\" varchar(36) NOT NULL, \"address\" varchar(45) NOT NULL, \"family\" integer NOT NULL, \"sortKey\" varchar(34) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("CREATE INDEX \"IDX_48b2cf54bc9671dcd1aa745410\" ON \"ip_addresses\" (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2e49111a25896a0ac4973a13ab\" ON \"ip_addresses\" (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_44866ce929330f73a2638ca171\" ON \"ip_addresses\" (\"poolId\", \"sortKey\") ");
    await queryRunner.query("DROP INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\"");
    await queryRunner.query("DROP INDEX \"IDX_e94a702fb06f5b888cb2c8738b\"");
    await queryRunner.query("CREATE TABLE \"temporary_ip_pools\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"family\" integer NOT NULL, \"cidr\" varchar(64) NOT NULL, \"firstAddress\" varchar(45) NOT NULL, \"lastAddress\" varchar(45) NOT NULL, \"firstKey\" varchar(34) NOT NULL, \"lastKey\" varchar(34) NOT NULL, \"gateway\" varchar(45), \"reserved\" text NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_40731c3c8d2df1b2c7f57f243f1\" FOREIGN KEY (\"clusterId\") REFERENCES \"clusters\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_ip_pools\"(\"id\", \"clusterId\", \"name\", \"family\", \"cidr\", \"firstAddress\", \"lastAddress\", \"firstKey\", \"lastKey\", \"gateway\", \"reserved\", \"createdAt\") SELECT \"id\", \"clusterId\", \"name\", \"family\", \"cidr\", \"firstAddress\", \"lastAddress\", \"firstKey\", \"lastKey\", \"gateway\", \"reserved\", \"createdAt\" FROM \"ip_pools\"");
    await queryRunner.query("DROP TABLE \"ip_pools\"");
    await queryRunner.query("ALTER TABLE \"temporary_ip_pools\" RENAME TO \"ip_pools\"");
    await queryRunner.query("CREATE INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\" ON \"ip_pools\" (\"clusterId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e94a702fb06f5b888cb2c8738b\" ON \"ip_pools\" (\"clusterId\", \"name\") ");
    await queryRunner.query("DROP INDEX \"IDX_48b2cf54bc9671dcd1aa745410\"");
    await queryRunner.query("DROP INDEX \"IDX_2e49111a25896a0ac4973a13ab\"");
    await queryRunner.query("DROP INDEX \"IDX_44866ce929330f73a2638ca171\"");
    await queryRunner.query("CREATE TABLE \"temporary_ip_addresses\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"poolId\" varchar(36) NOT NULL, \"containerId\" varchar(36) NOT NULL, \"address\" varchar(45) NOT NULL, \"family\" integer NOT NULL, \"sortKey\" varchar(34) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"FK_8427d410792e8dbbb45bbec9947\" FOREIGN KEY (\"poolId\") REFERENCES \"ip_pools\" (\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION, CONSTRAINT \"FK_48b2cf54bc9671dcd1aa7454105\" FOREIGN KEY (\"containerId\") REFERENCES \"containers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)");
    await queryRunner.query("INSERT INTO \"temporary_ip_addresses\"(\"id\", \"poolId\", \"containerId\", \"address\", \"family\", \"sortKey\", \"createdAt\") SELECT \"id\", \"poolId\", \"containerId\", \"address\", \"family\", \"sortKey\", \"createdAt\" FROM \"ip_addresses\"");
    await queryRunner.query("DROP TABLE \"ip_addresses\"");
    await queryRunner.query("ALTER TABLE \"temporary_ip_addresses\" RENAME TO \"ip_addresses\"");
    await queryRunner.query("CREATE INDEX \"IDX_48b2cf54bc9671dcd1aa745410\" ON \"ip_addresses\" (\"containerId\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2e49111a25896a0ac4973a13ab\" ON \"ip_addresses\" (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_44866ce929330f73a2638ca171\" ON \"ip_addresses\" (\"poolId\", \"sortKey\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_44866ce929330f73a2638ca171\"");
    await queryRunner.query("DROP INDEX \"IDX_2e49111a25896a0ac4973a13ab\"");
    await queryRunner.query("DROP INDEX \"IDX_48b2cf54bc9671dcd1aa745410\"");
    await queryRunner.query("ALTER TABLE \"ip_addresses\" RENAME TO \"temporary_ip_addresses\"");
    await queryRunner.query("CREATE TABLE \"ip_addresses\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"poolId\" varchar(36) NOT NULL, \"containerId\" varchar(36) NOT NULL, \"address\" varchar(45) NOT NULL, \"family\" integer NOT NULL, \"sortKey\" varchar(34) NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"ip_addresses\"(\"id\", \"poolId\", \"containerId\", \"address\", \"family\", \"sortKey\", \"createdAt\") SELECT \"id\", \"poolId\", \"containerId\", \"address\", \"family\", \"sortKey\", \"createdAt\" FROM \"temporary_ip_addresses\"");
    await queryRunner.query("DROP TABLE \"temporary_ip_addresses\"");
    await queryRunner.query("CREATE INDEX \"IDX_44866ce929330f73a2638ca171\" ON \"ip_addresses\" (\"poolId\", \"sortKey\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_2e49111a25896a0ac4973a13ab\" ON \"ip_addresses\" (\"address\") ");
    await queryRunner.query("CREATE INDEX \"IDX_48b2cf54bc9671dcd1aa745410\" ON \"ip_addresses\" (\"containerId\") ");
    await queryRunner.query("DROP INDEX \"IDX_e94a702fb06f5b888cb2c8738b\"");
    await queryRunner.query("DROP INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\"");
    await queryRunner.query("ALTER TABLE \"ip_pools\" RENAME TO \"temporary_ip_pools\"");
    await queryRunner.query("CREATE TABLE \"ip_pools\" (\"id\" varchar(36) PRIMARY KEY NOT NULL, \"clusterId\" varchar(36) NOT NULL, \"name\" varchar(63) NOT NULL, \"family\" integer NOT NULL, \"cidr\" varchar(64) NOT NULL, \"firstAddress\" varchar(45) NOT NULL, \"lastAddress\" varchar(45) NOT NULL, \"firstKey\" varchar(34) NOT NULL, \"lastKey\" varchar(34) NOT NULL, \"gateway\" varchar(45), \"reserved\" text NOT NULL, \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"ip_pools\"(\"id\", \"clusterId\", \"name\", \"family\", \"cidr\", \"firstAddress\", \"lastAddress\", \"firstKey\", \"lastKey\", \"gateway\", \"reserved\", \"createdAt\") SELECT \"id\", \"clusterId\", \"name\", \"family\", \"cidr\", \"firstAddress\", \"lastAddress\", \"firstKey\", \"lastKey\", \"gateway\", \"reserved\", \"createdAt\" FROM \"temporary_ip_pools\"");
    await queryRunner.query("DROP TABLE \"temporary_ip_pools\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"IDX_e94a702fb06f5b888cb2c8738b\" ON \"ip_pools\" (\"clusterId\", \"name\") ");
    await queryRunner.query("CREATE INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\" ON \"ip_pools\" (\"clusterId\") ");
    await queryRunner.query("DROP INDEX \"IDX_44866ce929330f73a2638ca171\"");
    await queryRunner.query("DROP INDEX \"IDX_2e49111a25896a0ac4973a13ab\"");
    await queryRunner.query("DROP INDEX \"IDX_48b2cf54bc9671dcd1aa745410\"");
    await queryRunner.query("DROP TABLE \"ip_addresses\"");
    await queryRunner.query("DROP INDEX \"IDX_e94a702fb06f5b888cb2c8738b\"");
    await queryRunner.query("DROP INDEX \"IDX_40731c3c8d2df1b2c7f57f243f\"");
    await queryRunner.query("DROP TABLE \"ip_pools\"");
  }
}
